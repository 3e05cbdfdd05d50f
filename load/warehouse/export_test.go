package warehouse

// SetFailpoint makes a commit of w stop at the named step, as a killed process would: f returns an error there.
func SetFailpoint(w *Warehouse, f func(step string) error) { w.failpoint = f }
