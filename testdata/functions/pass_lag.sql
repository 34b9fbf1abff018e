SELECT spiral_lag('ticks')
