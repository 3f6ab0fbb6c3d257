package preprocess

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadJPEG720p: decode a 1280×720 JPEG, resize and crop to
// 224×224, normalise (the imagenet preset).
func BenchmarkLoadJPEG720p(b *testing.B) {
	path := filepath.Join(sharedDir, "images", "coral_cat_720p.jpg")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("shared test image not present: %v", err)
	}
	opt := Options{Size: [2]int{224, 224}, Resize: ShorterCrop, CropFraction: 0.875, Scale: 1.0 / 255, Mean: imagenetMean, Std: imagenetStd, Channels: 3}
	for b.Loop() {
		if _, err := Load(path, opt); err != nil {
			b.Fatal(err)
		}
	}
}
