#include <gtest/gtest.h>

#include "spec/const_spec.h"

namespace kx {
namespace {

TEST(SpecParse, FileLineToken) {
  auto s = parse_const_spec("mm/vmscan.c:785:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->file, "mm/vmscan.c");
  EXPECT_EQ(s->line, 785);
  EXPECT_EQ(s->token, 0);
  EXPECT_EQ(s->str(), "mm/vmscan.c:785:0");
}

TEST(SpecParse, WholeBodyAndNormalisedFile) {
  auto s = parse_const_spec("./mm//migrate.c:1486:-1");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->str(), "mm/migrate.c:1486:-1");
}

TEST(SpecParse, MalformedSpecsSayWhatIsWrong) {
  struct Case {
    const char *spec, *says;
  } cases[] = {
      {"", "expected FILE:LINE:TOKEN"},
      {"mm/vmscan.c", "expected FILE:LINE:TOKEN"},
      {"mm/vmscan.c:785", "expected FILE:LINE:TOKEN"},
      {":785:0", "FILE is empty"},
      {"mm/vmscan.c:x:0", "LINE must be a number"},
      {"mm/vmscan.c: 785:0", "LINE must be a number"},
      {"mm/vmscan.c:+785:0", "LINE must be a number"},
      {"mm/vmscan.c::0", "LINE must be a number"},
      {"mm/vmscan.c:99999999999:0", "LINE must be a number"},
      {"mm/vmscan.c:0:0", "LINE starts at 1"},
      {"mm/vmscan.c:-3:0", "LINE starts at 1"},
      {"mm/vmscan.c:785:", "TOKEN must be a number"},
      {"mm/vmscan.c:785:0x", "TOKEN must be a number"},
      {"mm/vmscan.c:785:-2", "or -1 for a whole macro body"},
      {"/usr/src/linux/mm/vmscan.c:785:0", "relative to the kernel source root"},
      {"../mm/vmscan.c:785:0", "inside the kernel source tree"},
      {"mm/../../vmscan.c:785:0", "inside the kernel source tree"},
      {"mm/x/../vmscan.c:785:0", "inside the kernel source tree"},
      {"mm/:785:0", "must name a file"},
  };
  for (const auto &c : cases) {
    auto s = parse_const_spec(c.spec);
    ASSERT_FALSE(s) << c.spec;
    EXPECT_NE(s.error().message.find(c.says), std::string::npos) << c.spec << " -> " << s.error().message;
    EXPECT_NE(s.error().message.find(std::string("'") + c.spec + "'"), std::string::npos) << s.error().message;
  }
}

}  // namespace
}  // namespace kx
