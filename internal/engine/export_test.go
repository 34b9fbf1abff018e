package engine

// CatalogGeneration is the generation of the catalog as it stands, without
// reading it: tests watch the background reload with it.
func (e *Engine) CatalogGeneration() uint64 {
	e.cat.mu.Lock()
	defer e.cat.mu.Unlock()
	return e.cat.gen
}
