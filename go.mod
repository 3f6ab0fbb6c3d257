module github.com/paneonnx/paneonnx

go 1.26.0

require (
	github.com/yalue/onnxruntime_go v1.27.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/campoy/embedmd v1.0.0 // indirect
	github.com/mmcloughlin/avo v0.5.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/sbinet/npyio v0.6.0 // indirect
	github.com/urfave/cli/v3 v3.14.0 // indirect
	golang.org/x/image v0.48.0 // indirect
	golang.org/x/mod v0.6.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.2.0 // indirect
	gonum.org/v1/gonum v0.9.3 // indirect
)
