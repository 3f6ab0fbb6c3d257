// Package metrics scores saliency maps with the perturbation metrics of the
// paper's §8.3 and of RISE, exactly as SPEC §7.2 defines them.
//
// # Spaces and maps
//
// Y is the softmax probability of the target class t on the original input
// X. Perturbations are made on X in pixel space (values p/255 in [0,1], the
// preprocess.Image.Pixels of the image) and the perturbed images are then
// mapped to model space with preprocess.Options.Normalize; with
// Evaluator.Pre nil they are made directly on the model input (tensor
// space). Either way the space is recorded in the protocol.
//
// A map with one channel (the CAM baselines) is broadcast over the colour
// channels of the image; a map with as many channels as the image (IOM) stays
// per channel. The metrics read S = max(map, 0).
//
// # Per image and method (Evaluate)
//
//   - O = p_t(E) on the paper's explanation map E = 0.5·X + 0.5·S;
//   - O_prod = p_t(S ⊙ X), the Grad-CAM++ protocol;
//   - Ŷ = p_t(X̂) with S' = S where S > mean(S), else 0, and
//     X̂ = (1 − 1[S' > 0]) ⊙ X: the salient part removed;
//   - Area: the fraction of map elements with S > 0; Value: the mean of S
//     over those elements (0 when there are none; such images are left out
//     of the Avg Value mean);
//   - deletion and insertion curves (RISE): the map elements are ordered by
//     decreasing S, a stable sort with ties broken by the lower flat index
//     (C×H×W order); an element of a one-channel map is a pixel with all its
//     channels, an element of a per-channel map is one channel of one pixel.
//     Step k = 0..Steps changes the first n_k = ⌊k·E/Steps⌋ of the E
//     elements; its abscissa is n_k/E, the fraction of input values (pixels
//     × channels) changed. Deletion sets the changed values to 0; insertion
//     starts from X blurred by a Gaussian of σ = 5·min(H,W)/224 pixels (5 px
//     at 224 px; taps to ⌈3σ⌉, renormalised over the in-bounds taps at the
//     borders) and restores the original values. The AUC is the trapezoid
//     rule over those abscissae of p_t.
//
// Every perturbed image of one image and method (3 + 2·(Steps+1) of them)
// goes through the model in batches of Evaluator.Batch.
//
// # Over a data set (Aggregate)
//
//   - Avg Drop = mean_i max(0, Y_i − O_i)/Y_i; the "No heatmap" row uses
//     E = 0.5·X; Avg Drop (S⊙X) the same with O_prod;
//   - Win: per image the method with the smallest relative drop
//     (Y − O)/Y wins; methods with equal O share the win equally; the
//     "No heatmap" row does not compete; over the images that have every
//     method the column sums to 1;
//   - Increase in Confidence = mean_i 1[O_i > Y_i];
//   - Confidence Drop = mean_i (Y_i − Ŷ_i)/Y_i;
//   - Avg Area, Avg Value, mean deletion and insertion AUC.
//
// Completeness runs the engine's full PANE (SPEC §5.6) for the residual and
// the E+/E− split of each target logit.
package metrics
