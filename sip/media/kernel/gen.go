package kernel

// The object is committed so that `make build` needs no clang; `make
// generate` rebuilds it (clang and libbpf-dev from Debian).
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -I/usr/include/x86_64-linux-gnu" -type fwd_key -type fwd_val forward forward.c
