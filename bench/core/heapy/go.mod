module heapy

go 1.19
