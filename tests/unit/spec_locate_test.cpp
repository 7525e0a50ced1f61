#include <gtest/gtest.h>

#include "spec/locate.h"
#include "test_util.h"

namespace kx {
namespace {

// A small tree; `at(spec)` locates in it and checks the bytes named are the token's.
struct Tree {
  test::TempDir dir;
  void add(const std::string &rel, const std::string &text) { ASSERT_TRUE(write_file_atomic(dir / rel, text)); }
  Result<ConstSite> at(const std::string &spec) {
    auto s = parse_const_spec(spec);
    if (!s) return s.error();
    auto site = locate_spec(dir.path, *s);
    if (site && site->token >= 0) {
      std::string src = read_file(dir / site->file).value();
      EXPECT_EQ(src.substr(site->offset, site->length), site->token_text) << spec;
    }
    return site;
  }
};

const char *kVmscan = R"(/* mm/vmscan.c, abridged: 42 */
#include <linux/mm.h>

#define SHRINK_BATCH 128 /* 256 */
#define TCP_RTO_MIN ((unsigned)(HZ/5))
#define fits_capacity(cap, max) ((cap) * 1280 < (max) * 1024)
#define WB_STAT_BATCH(x) \
	((x) * 8 + \
	 (1 + ilog2(nr_cpu_ids)))
#define NR_MAX_BATCHED_MIGRATION HPAGE_PMD_NR
#if HZ > 100
#endif
static const int halve_threshold = 25;
static const unsigned long vmpressure_win = SWAP_CLUSTER_MAX * 16;
const u64 __read_mostly slack = 5 * NSEC_PER_MSEC;
static const int pair_a = 1, pair_b = f(2, 3), table[] = { 4, 5 };
enum {
	MAX_IDLE_WORKERS_RATIO = 4, /* 1/4 of busy can be idle */
	IDLE_WORKER_TIMEOUT = 300 * HZ,
};
static void f(struct sched_domain *sd, int count)
{
	const int local = 3;
	/* a comment of
	   two lines */ count = 7;
	printf("%d 5", '0', 9);
	if (++count > 3) {
		*sd = (struct sched_domain){
			.busy_factor = 16,
		};
	}
}
)";

TEST(SpecLocate, ObjectLikeMacro) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:4:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->spec, "mm/vmscan.c:4:0");
  EXPECT_EQ(s->token_text, "128");
  EXPECT_EQ(s->value, 128u);
  EXPECT_EQ(s->kind, SiteKind::Macro);
  EXPECT_STREQ(site_kind_name(s->kind), "macro");
  EXPECT_EQ(s->name, "SHRINK_BATCH");
  EXPECT_FALSE(s->macro_params);
  EXPECT_EQ(s->definition, "#define SHRINK_BATCH 128");
  EXPECT_EQ(s->source_line, "#define SHRINK_BATCH 128 /* 256 */");
}

TEST(SpecLocate, ExpressionBodyNamesItsLiteral) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:5:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->token_text, "5");
  EXPECT_EQ(s->name, "TCP_RTO_MIN");
  EXPECT_EQ(s->definition, "#define TCP_RTO_MIN ((unsigned)(HZ/5))");
}

TEST(SpecLocate, FunctionLikeMacroLiteralIsCode) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:6:1");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->value, 1024u);
  EXPECT_EQ(s->kind, SiteKind::Literal);
  EXPECT_EQ(s->name, "fits_capacity");
  EXPECT_EQ(s->macro_params, (std::vector<std::string>{"cap", "max"}));
}

TEST(SpecLocate, ContinuationLinesOfAMacroBody) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:9:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->token_text, "1");
  EXPECT_EQ(s->name, "WB_STAT_BATCH");
  EXPECT_EQ(s->definition, "#define WB_STAT_BATCH(x) ((x) * 8 + (1 + ilog2(nr_cpu_ids)))");
  EXPECT_EQ(t.at("mm/vmscan.c:8:0")->token_text, "8");
}

TEST(SpecLocate, WholeMacroBody) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:10:-1");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->token_text, "HPAGE_PMD_NR");
  EXPECT_FALSE(s->value);
  EXPECT_EQ(s->kind, SiteKind::Macro);
  EXPECT_EQ(s->name, "NR_MAX_BATCHED_MIGRATION");
  std::string src = kVmscan;
  EXPECT_EQ(src.substr(s->offset, s->length), "HPAGE_PMD_NR");
}

TEST(SpecLocate, StaticConstIntegers) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  for (auto [spec, name, value] : {std::tuple{"mm/vmscan.c:13:0", "halve_threshold", 25},
                                   {"mm/vmscan.c:14:0", "vmpressure_win", 16},
                                   {"mm/vmscan.c:15:0", "slack", 5}}) {
    auto s = t.at(spec);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->kind, SiteKind::StaticConst) << spec;
    EXPECT_EQ(s->name, name);
    EXPECT_EQ(s->value, static_cast<uint64_t>(value));
  }
  EXPECT_EQ(t.at("mm/vmscan.c:13:0")->definition, "static const int halve_threshold = 25;");
  // One declaration, several declarators.
  EXPECT_EQ(t.at("mm/vmscan.c:16:0")->name, "pair_a");
  EXPECT_EQ(t.at("mm/vmscan.c:16:1")->name, "pair_b");
  // An array's elements and a function's local const are literals in code.
  EXPECT_EQ(t.at("mm/vmscan.c:16:3")->kind, SiteKind::Literal);
  EXPECT_EQ(t.at("mm/vmscan.c:16:3")->definition, "4");
  EXPECT_EQ(t.at("mm/vmscan.c:23:0")->kind, SiteKind::Literal);
  EXPECT_EQ(t.at("mm/vmscan.c:23:0")->definition, "const int local = 3;");
}

TEST(SpecLocate, EnumeratorsAreNamedLiterals) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:19:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, SiteKind::Literal);
  EXPECT_EQ(s->name, "IDLE_WORKER_TIMEOUT");
  EXPECT_EQ(s->definition, "IDLE_WORKER_TIMEOUT = 300 * HZ");
  EXPECT_EQ(t.at("mm/vmscan.c:18:0")->value, 4u);  // the 1/4 in the comment is no token
  EXPECT_FALSE(t.at("mm/vmscan.c:18:1"));
}

TEST(SpecLocate, LiteralsInCode) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto s = t.at("mm/vmscan.c:25:0");  // after a comment that began on line 24
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->value, 7u);
  EXPECT_EQ(s->definition, "count = 7;");
  EXPECT_EQ(s->name, "");
  EXPECT_EQ(t.at("mm/vmscan.c:26:0")->value, 9u);  // not the 5 in the string, not '0'
  EXPECT_EQ(t.at("mm/vmscan.c:27:0")->definition, "if (++count > 3)");
  EXPECT_EQ(t.at("mm/vmscan.c:29:0")->definition, ".busy_factor = 16");
}

TEST(SpecLocate, UnbalancedIfBranchesDoNotDerailTheRest) {
  Tree t;
  t.add("kernel/a.c", R"(void f(void)
{
#ifdef CONFIG_A
	if (a) {
#else
	if (b) {
#endif
		x = 1;
	}
}
static const int later = 7;
)");
  auto s = t.at("kernel/a.c:11:0");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, SiteKind::StaticConst);
  EXPECT_EQ(t.at("kernel/a.c:8:0")->definition, "x = 1;");
}

TEST(SpecLocate, ErrorsSayWhatIsThere) {
  Tree t;
  t.add("mm/vmscan.c", kVmscan);
  auto err = [&](const std::string &spec) {
    auto s = t.at(spec);
    EXPECT_FALSE(s) << spec;
    return s ? "" : s.error().message;
  };
  EXPECT_NE(err("mm/nosuch.c:1:0").find("no file mm/nosuch.c"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:400:0").find("past the end of mm/vmscan.c (32 lines)"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:6:2").find("the line has 2 numeric tokens: 0=1280, 1=1024"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:3:0").find("the line has 0 numeric tokens"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:13:-1").find("needs a #define on this line"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:6:-1").find("fits_capacity takes parameters"), std::string::npos);
  EXPECT_NE(err("mm/vmscan.c:11:0").find("#if directive"), std::string::npos);
}

}  // namespace
}  // namespace kx
