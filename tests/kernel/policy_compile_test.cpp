// kx gen's stub compiles against the profile's BTF (vmlinux.h from the debug
// vmlinux) and x_tune.h into what kx load expects: one kprobe program per
// X_TUNE section and the slot map with the module's layout. Loading needs a
// kernel with kprobes: the lab tests do that part.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <fstream>

#include "kernel/tree_cache.h"
#include "policy/x_tune.h"
#include "util/files.h"
#include "x_sie_uapi.h"

namespace kx {
namespace {

TEST(PolicyCompile, GeneratedStubCompilesToKprobePrograms) {
  auto p = resolve_profile(default_profile_name());
  ASSERT_TRUE(p) << p.error().message;
  std::ifstream in(std::string(KX_FIXTURES) + "/runtime/cached_consts.json");
  std::vector<nlohmann::json> reports;
  for (auto &r : nlohmann::json::parse(in))
    if (r["id"] == "SHRINK_BATCH" || r["id"] == "BLK_MAX_REQUEST_COUNT") reports.push_back(r);
  auto text = generate_x_tune(reports);
  ASSERT_TRUE(text) << text.error().message;
  // A policy that reads kernel state through CO-RE, as a real one would.
  std::string src = *text + "\nX_TUNE(\"EXTRA\")\nint extra(struct pt_regs *ctx)\n{\n"
                            "\tstruct task_struct *t = (void *)bpf_get_current_task();\n"
                            "\tx_set(ctx, BPF_CORE_READ(t, pid) & 0xff);\n\treturn 0;\n}\n";
  auto dir = make_temp_dir(std::filesystem::temp_directory_path(), "kx-policy-test-");
  ASSERT_TRUE(dir);
  auto file = *dir / "tune.bpf.c";
  ASSERT_TRUE(write_file_atomic(file, src));
  auto obj = compile_x_tune(*p, file, *dir);
  ASSERT_TRUE(obj) << obj.error().message;

  bpf_object *o = bpf_object__open_file(obj->c_str(), nullptr);
  ASSERT_NE(o, nullptr);
  std::vector<std::string> sections;
  bpf_program *prog;
  bpf_object__for_each_program(prog, o) {
    sections.push_back(bpf_program__section_name(prog));
    EXPECT_EQ(bpf_program__type(prog), BPF_PROG_TYPE_KPROBE);
  }
  std::sort(sections.begin(), sections.end());
  EXPECT_EQ(sections, (std::vector<std::string>{"kprobe/x_tune/BLK_MAX_REQUEST_COUNT", "kprobe/x_tune/EXTRA",
                                                "kprobe/x_tune/SHRINK_BATCH"}));
  bpf_map *slot = bpf_object__find_map_by_name(o, "x_sie_slot");
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(bpf_map__type(slot), BPF_MAP_TYPE_PERCPU_ARRAY);
  EXPECT_EQ(bpf_map__value_size(slot), sizeof(x_sie_slot));
  bpf_object__close(o);

  // A syntax error is clang's message, naming the line.
  ASSERT_TRUE(write_file_atomic(file, src + "\nint broken(\n"));
  auto bad = compile_x_tune(*p, file, *dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tune.bpf.c:"), std::string::npos) << bad.error().message;
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace kx
