// Package audit runs saliency methods over a data set and scores them with
// package metrics: `paneonnx audit MODEL DATASET`.
//
// # Data sets (OpenDataset)
//
//   - a folder of images, flat or with one sub-folder per class (images are
//     the files with an image extension, hidden files ignored, in sorted
//     order of their paths relative to the folder). A sub-folder's class is
//     the model's label of that name (case and '_'/' ' ignored) when every
//     sub-folder names one, else the number the sub-folder is named for when
//     every one is a number, else its position among the sorted sub-folders
//     (torchvision's ImageFolder). Files directly in the folder have no label;
//   - an MNIST-style IDX image file ([n, h, w], gzip or plain); the labels
//     are read from the file beside it whose name has "labels"/"idx1" for
//     "images"/"idx3" (e.g. t10k-labels-idx1-ubyte.gz), when it exists;
//   - a text file listing one image per line, relative to the file's folder
//     or absolute, optionally followed by a label (after a tab, or after the
//     last space when that is a number or a label name); blank lines and
//     lines starting with '#' are skipped;
//   - a single image file.
//
// An image that cannot be read or decoded is skipped: the reason is logged
// and recorded in results.jsonl, and audit.json lists it.
//
// # Targets
//
// Each image is explained for, and scored on, the class the model predicts
// (the largest logit), as in the paper; Config.Target "label" uses the
// data set's label instead (images without one are skipped).
//
// # Outputs (in Config.Out)
//
//   - results.jsonl: one JSON object per image × method (Record), appended
//     and fsynced as soon as it is computed;
//   - table.md and table.csv: the paper's Table 1 layout (Methods | Avg.
//     Area% | Avg. Value | Avg. Drop% | % Win | Confi. Drop; as in the paper
//     the "%" columns hold fractions) followed by Increase in Confidence,
//     Avg. Drop of the Grad-CAM++ protocol (E = S ⊙ X), deletion and
//     insertion AUC, and for the excitation methods the completeness
//     residual (largest over the images) and the median E+ and E− of the
//     target logit;
//   - report.html: one self-contained page with the table, bar charts of the
//     metrics and the mean deletion and insertion curves as inline SVG, and
//     for the first Config.ReportImages images the photo and every method's
//     map as embedded PNGs (also kept in maps/);
//   - audit.json: the protocol, model, data set, versions, counts and
//     timings.
//
// # Interruption and resumption
//
// Cancelling the context (the command line does on SIGINT and SIGTERM)
// stops the audit after the results already written; a hard stop loses at
// most the line being written. With Config.Resume the pairs already in
// results.jsonl are skipped (a truncated last line is dropped); the table
// is always computed from results.jsonl, in image and method order, so an
// interrupted and resumed audit writes exactly the table of an
// uninterrupted one. Every line carries a fingerprint of the settings that
// change its numbers (model file, data set, preprocessing, space, target
// rule, IOM's k, the CAM layer, the metric protocol); resuming with other
// settings is an error. The methods and Limit are not part of the
// fingerprint: a resumed audit may add methods or images, or lower Limit to
// get the table of the first images computed so far.
//
// # Workers
//
// Config.Workers images are processed in parallel, each with its own
// forward and backward passes over one shared graph. Sharing is safe: the
// operators hold only constants fixed at import, and the lazily built
// absolute weights of Conv and Gemm are guarded by sync.Once (`go test
// -race ./audit` runs every method of the paper over two workers). The kernels already spread one pass over the cores,
// so the default is one worker; more help small models, whose passes are too
// short to parallelise.
//
// # Dependencies
//
// github.com/schollz/progressbar/v3 draws the progress bar with rate and
// ETA on a terminal (throttled redraws, terminal width, clearing before log
// lines): a few hundred lines that are easy to get subtly wrong and are not
// the point of this package. The command line shows it only when stdout and
// stderr are terminals (golang.org/x/term, which progressbar already
// requires).
package audit
