module goscope/bench/rpcclient

go 1.19
