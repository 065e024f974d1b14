module dapbench

go 1.19
