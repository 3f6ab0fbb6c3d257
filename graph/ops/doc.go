// Package ops implements the operators of the IR: one Go type per ONNX
// operator (or tight family), registered with graph.Register from init.
//
// Conventions every operator here follows:
//
//   - Constructors check every attribute and fold constant operands into
//     the operator; the node's data inputs are its non-constant present
//     inputs, in order. Inputs an opset does not define are rejected.
//   - Forward implements ONNX semantics for opsets 9 to 21 on tensors of any
//     rank, so that the importer can also fold constant sub-graphs with it.
//   - Backward (graph.Backprop) takes backward tensors with N·S rows for
//     forward tensors with N: row b belongs to image b/S. It accumulates
//     into dx and skips a nil dx or dy. It reports an error, rather than
//     mixing images, when the operator moves or mixes the batch dim (a
//     Transpose of dim 0, a Concat along it, a data operand broadcast along
//     it, and so on).
//   - Coef and AbsCoef use the node's local linear form y = A·x + c (SPEC
//     §5.1), documented on each type; Offset returns c (nil when zero).
package ops
