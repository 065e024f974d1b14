module example.com/dapprog

go 1.19
