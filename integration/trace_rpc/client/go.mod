module goscope/integration/tracerpc

go 1.19
