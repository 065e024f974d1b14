module goscope.example

go 1.19
