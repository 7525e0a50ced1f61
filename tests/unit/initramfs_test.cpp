#include <gtest/gtest.h>
#include <sys/stat.h>

#include "lab/cpio_newc.h"
#include "lab/initramfs.h"
#include "test_util.h"

namespace kx {
namespace {

TEST(Initramfs, LocatesModulesInOrderAndAcceptsBuiltins) {
  test::TempDir d;
  ASSERT_TRUE(write_file_atomic(d / "modules.dep",
                                "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n"
                                "kernel/fs/fuse/fuse.ko:\nkernel/drivers/virtio/virtio_pci-modern-dev.ko:\n"));
  ASSERT_TRUE(write_file_atomic(d / "modules.builtin", "kernel/fs/overlayfs/overlay.ko\n"));
  auto m = locate_modules(d.path, {"fuse", "virtiofs", "overlay", "virtio_pci_modern_dev"});
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->size(), 4u);
  EXPECT_EQ((*m)[0].second, d / "kernel/fs/fuse/fuse.ko");
  EXPECT_EQ((*m)[1].second, d / "kernel/fs/fuse/virtiofs.ko");
  EXPECT_TRUE((*m)[2].second.empty());  // built in: nothing to insert
  EXPECT_EQ((*m)[3].second, d / "kernel/drivers/virtio/virtio_pci-modern-dev.ko");
  auto missing = locate_modules(d.path, {"virtio_ring"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("virtio_ring"), std::string::npos);
}

TEST(Initramfs, CpioArchiveUnpacksWithCpio) {
  test::TempDir d;
  CpioWriter w;
  w.directory("bin");
  w.file("bin/tool", "#!/bin/sh\necho hi\n", 0755);
  w.file("data", std::string(1001, 'x'));  // odd size: padding matters
  w.symlink("link", "bin/tool");
  ASSERT_TRUE(write_file_atomic(d / "a.cpio", w.finish()));
  auto r = run_checked({"sh", "-c", "cd " + (d / "out").string() + " 2>/dev/null || mkdir " + (d / "out").string() +
                                        " && cd " + (d / "out").string() + " && cpio -id --quiet < ../a.cpio"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*read_file(d / "out/bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(read_file(d / "out/data")->size(), 1001u);
  struct stat st;
  ASSERT_EQ(stat((d / "out/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(std::filesystem::read_symlink(d / "out/link"), "bin/tool");
}

}  // namespace
}  // namespace kx
