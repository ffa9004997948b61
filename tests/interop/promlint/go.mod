module sluice.dev/promlint

go 1.23

require (
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/common v0.73.1
)
