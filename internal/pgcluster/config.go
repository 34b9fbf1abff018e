package pgcluster

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// confFile is rewritten on every start with the port, socket dir and
// Options.Settings; postgresql.conf includes it at its end.
const confFile = "spiral.conf"

const includeLine = "include_if_exists = '" + confFile + "'"

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// ensureInclude appends the include line to postgresql.conf once.
func ensureInclude(dataDir string) error {
	path := filepath.Join(dataDir, "postgresql.conf")
	conf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	if bytes.Contains(conf, []byte(includeLine)) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# added by spiral's pgcluster\n%s\n", includeLine)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	return nil
}

// writeConf writes confFile for the current port and socket dir.
func (c *Cluster) writeConf() error {
	conf, err := renderConf(c.settings())
	if err != nil {
		return err
	}
	if err := c.owner.writeFile(filepath.Join(c.dataDir, confFile), conf); err != nil {
		return fmt.Errorf("%s: %w", confFile, err)
	}
	return nil
}

// settings merges the defaults, the Fast settings and Options.Settings.
func (c *Cluster) settings() map[string]string {
	s := map[string]string{
		"listen_addresses":        c.Host(),
		"port":                    strconv.Itoa(c.port),
		"unix_socket_directories": c.sockDir,
		"max_connections":         "200",
		"password_encryption":     "scram-sha-256",
		"shared_buffers":          "128MB",
		"logging_collector":       "off",
		"lc_messages":             "C",
	}
	if c.opts.Fast {
		s["fsync"] = "off"
		s["synchronous_commit"] = "off"
		s["full_page_writes"] = "off"
	}
	maps.Copy(s, c.opts.Settings)
	return s
}

// renderConf formats settings as postgresql.conf lines, sorted by name.
func renderConf(settings map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# written by spiral's pgcluster on every start; edits are lost\n")
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		value := settings[name]
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("pgcluster: bad setting name %q", name)
		}
		if strings.ContainsAny(value, "\n\r\x00") {
			return nil, fmt.Errorf("pgcluster: setting %s: value contains a line break or NUL", name)
		}
		fmt.Fprintf(&b, "%s = %s\n", name, quoteConf(value))
	}
	return b.Bytes(), nil
}

// quoteConf quotes a value for postgresql.conf, which unescapes
// backslashes and doubled quotes inside '...'.
func quoteConf(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
