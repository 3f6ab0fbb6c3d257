package graph

// PoisonRecycled lets the external tests fill reused buffers with NaN.
var PoisonRecycled = &poisonRecycled
