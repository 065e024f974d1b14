module goscope/integration/rpcclient

go 1.19
