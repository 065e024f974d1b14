module traceprog

go 1.19
