// Loadable modules as units of analysis: their compile units read from a
// relocatable .ko's DWARF (which is only right with its relocations
// applied), a constant's module objects found among them, and a function of
// an object placed in its module as section + offset with its source line.
// The module is a small one built here the way kbuild links a .ko (ld -r).
#include <gtest/gtest.h>

#include <algorithm>

#include "binary/cu_index.h"
#include "binary/debug_info.h"
#include "binary/module_image.h"
#include "kernel/affected_objects.h"
#include "kernel/module_units.h"
#include "test_util.h"
#include "util/hex.h"

namespace kx {
namespace {

struct ModuleFixture : ::testing::Test {
  test::TempDir tree, mods;
  std::filesystem::path ko;
  void SetUp() override {
    auto put = [&](const std::string &f, const std::string &text) { ASSERT_TRUE(write_file_atomic(tree / f, text)); };
    // A header a unit's DWARF names: it declares a type the unit uses.
    put("include/foo.h", "#define FOO_MAX 48\nstruct foo_cfg { int max; };\n");
    put("drivers/foo/foo-util.c", "int foo_twice(int x) { return 2 * x; }\n");
    put("drivers/foo/foo-main.c",
        "#include <foo.h>\n"
        "int foo_limit(struct foo_cfg *c, int x)\n{\n\treturn x > FOO_MAX ? c->max : x;\n}\n");
    put("kernel/core.c", "#include <foo.h>\nint core(struct foo_cfg *c) { return FOO_MAX + c->max; }\n");
    for (auto *o : {"drivers/foo/foo-util", "drivers/foo/foo-main"})
      ASSERT_TRUE(run_checked({"gcc", "-g", "-O2", "-I", (tree / "include").string(), "-c", (tree / (std::string(o) + ".c")).string(), "-o",
                               (tree / (std::string(o) + ".o")).string()}));
    // foo-util first: foo-main's code lands at a non-zero offset of .text.
    std::filesystem::create_directories(mods / "kernel/drivers/foo");
    ko = mods / "kernel/drivers/foo/foo-drv.ko";
    ASSERT_TRUE(run_checked({"ld", "-r", "--build-id=sha1", "-o", ko.string(), (tree / "drivers/foo/foo-util.o").string(),
                             (tree / "drivers/foo/foo-main.o").string()}));
  }
};

TEST_F(ModuleFixture, ReadsEachModulesUnitsWithTheFilesTheySaw) {
  auto units = read_module_compile_units(mods.path, tree.path);
  ASSERT_TRUE(units) << units.error().message;
  ASSERT_EQ(units->size(), 2u);
  for (auto &u : *units) {
    EXPECT_EQ(u.module, "foo_drv");  // the kernel's name: dashes become underscores
    EXPECT_EQ(u.module_image, ko);
  }
  auto main = std::find_if(units->begin(), units->end(), [](auto &u) { return u.source == "drivers/foo/foo-main.c"; });
  ASSERT_NE(main, units->end());
  EXPECT_EQ(main->object, "drivers/foo/foo-main.o");
  EXPECT_NE(std::find(main->files.begin(), main->files.end(), "include/foo.h"), main->files.end());
}

TEST_F(ModuleFixture, AConstUsedByVmlinuxAndAModuleGetsTheObjectsOfBoth) {
  auto units = read_module_compile_units(mods.path, tree.path);
  ASSERT_TRUE(units) << units.error().message;
  std::vector<CompileUnit> cus = {{"kernel/core.c", "kernel/core.o", {"kernel/core.c", "include/foo.h"}}};
  cus.insert(cus.end(), units->begin(), units->end());
  auto a = find_affected_objects(tree.path, cus, "include/foo.h", "FOO_MAX");
  EXPECT_EQ(a.objects, (std::vector<std::string>{"drivers/foo/foo-main.o", "kernel/core.o"}));
  auto images = module_images_by_object(cus);
  EXPECT_EQ(images.count("kernel/core.o"), 0u);
  EXPECT_EQ(images["drivers/foo/foo-main.o"], (std::vector<std::filesystem::path>{ko}));
}

TEST_F(ModuleFixture, PlacesAFunctionInItsModuleBySectionOffsetAndSourceLine) {
  auto object = ElfFile::open(tree / "drivers/foo/foo-main.o");
  ASSERT_TRUE(object) << object.error().message;
  auto fn = object->find_symbols("foo_limit");
  ASSERT_EQ(fn.size(), 1u);
  auto image = ElfFile::open(ko);
  ASSERT_TRUE(image);
  auto in_ko = image->find_symbols("foo_limit");
  ASSERT_EQ(in_ko.size(), 1u);
  ASSERT_GT(in_ko[0]->value, 0u);  // after foo_twice

  ModuleMaps maps(module_images_by_object(*read_module_compile_units(mods.path, tree.path)), tree.path);
  ASSERT_TRUE(maps.has("drivers/foo/foo-main.o"));
  auto at = maps.function_location("drivers/foo/foo-main.o", *object, *fn[0]);
  ASSERT_TRUE(at) << at.error().message;
  EXPECT_EQ(at->module, "foo_drv");
  EXPECT_EQ(at->section, ".text");
  EXPECT_EQ(at->offset, in_ko[0]->value);
  EXPECT_EQ(at->build_id, image->build_id());
  EXPECT_EQ(module_place(*at), "foo_drv:.text+" + hex(in_ko[0]->value));
  auto line = maps.locate(*at);
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->file, "drivers/foo/foo-main.c");
  EXPECT_GE(line->line, 3);  // the function's own lines, not foo_twice's line 1
}

TEST(ModuleName, IsTheKernelsNameForTheFile) { EXPECT_EQ(module_name("net/sched/sch-fq.ko"), "sch_fq"); }

}  // namespace
}  // namespace kx
