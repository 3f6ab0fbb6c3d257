module github.com/paneonnx/paneonnx

go 1.26
