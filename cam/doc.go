// Package cam implements the eight class-activation-map baselines that the
// paper compares IOM with — Grad-CAM, Grad-CAM++, Score-CAM, Ablation-CAM,
// XGrad-CAM, Eigen-CAM, Layer-CAM and FullGrad — following pytorch-grad-cam,
// the de facto reference, with the raw logit as the target (SPEC §7.1).
// Importing the package registers them with package saliency under the
// names in Names.
//
// Every method except FullGrad reads one target layer: the activations A
// (K×h×w per image) from the forward pass and, for the gradient methods,
// g = ∂logit_t/∂A from the backward engine in Grad mode, batched over the
// images. A method contributes only its cam at the layer's resolution; the
// shared pipeline applies ReLU, scales each image to [0,1] with
// (x − min)/(1e-7 + max), resizes it bilinearly to the input size with
// half-pixel centres (align_corners = false, as cv2.resize's INTER_LINEAR
// in pytorch-grad-cam's scale_cam_image) and scales it once more. Maps have
// one channel at the input's H×W; Map.Raw is the low-resolution cam after
// the ReLU.
//
// The target layer is saliency.Options.TargetLayer: a tensor name, "" for
// DefaultLayer (the last spatial feature map before the classifier head,
// pytorch-grad-cam's usual layer4[-1] / features[-1]) or "penultimate-conv"
// for PenultimateConv (the paper's experiment). Candidates lists the
// tensors that qualify.
//
// Where pytorch-grad-cam leaves a choice open or depends on an accident of
// its implementation, this package decides and records it in Protocol:
// Eigen-CAM's sign makes the largest-magnitude value positive, and
// Ablation-CAM replaces every ablated channel by the same value.
//
// Dependency: Eigen-CAM needs the singular value decomposition of an
// (h·w)×K matrix (49×1280 for MobileNetV2 at 224 px). It uses gonum's
// mat.SVD (gonum.org/v1/gonum, LAPACK's dgesvd ported to pure Go): the
// decomposition is numerically delicate, pure Go keeps CGO_ENABLED=0
// builds, and gonum is the standard numerical library for Go; writing and
// validating an SVD here would cost more than the dependency.
package cam
