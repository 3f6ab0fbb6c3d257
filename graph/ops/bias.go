package ops

// ChannelBias returns the constant the convolution adds to each output
// channel (its bias B), or nil when it has none. The slice is the
// operator's own; callers must not modify it.
func (c *Conv) ChannelBias() []float32 { return c.B }

// ChannelBias returns the constant the normalisation adds to each channel
// after scaling, β − γ·mean/√(var+ε) (its Shift). The slice is the
// operator's own; callers must not modify it.
func (b *BatchNorm) ChannelBias() []float32 { return b.Shift }
