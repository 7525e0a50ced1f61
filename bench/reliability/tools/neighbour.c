// Attaches tools/neighbour.bpf.o at FUNC+OFFSET through a kprobe perf
// event (libbpf), holds it for SECONDS and prints its hit count: a
// third-party BPF kprobe beside x-sie.ko's.
//   neighbour OBJ FUNC OFFSET SECONDS
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: neighbour OBJ FUNC OFFSET SECONDS\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "neighbour: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "neighbour");
	LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = strtoul(argv[3], NULL, 0));
	struct bpf_link *link = bpf_program__attach_kprobe_opts(prog, argv[2], &opts);
	if (!link) {
		fprintf(stderr, "neighbour: cannot attach at %s+%s\n", argv[2], argv[3]);
		return 1;
	}
	sleep(atoi(argv[4]));
	__u32 k = 0;
	__u64 n = 0;
	bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "hits"), &k, &n);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	printf("%llu\n", (unsigned long long)n);
	return 0;
}
