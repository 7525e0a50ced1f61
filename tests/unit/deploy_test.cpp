// Bundles and configs (kx bundle / kx apply, docs/bundle.md): a bundle plans
// the same transaction as the debug vmlinux it was cut from, and any edited,
// truncated or foreign bundle is refused with one line before anything runs.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>

#include "deploy/bundle.h"
#include "deploy/config.h"
#include "fixture_image.h"
#include "policy/x_tune.h"
#include "test_util.h"
#include "util/hex.h"

namespace kx {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json load(const std::string &name) { return test::load_runtime_fixture(name); }

// The functions of the cached consts, cut from the Debian 6.1 debug vmlinux,
// with one made-up KASLR fixup so the excerpt must carry it.
class FixtureImage : public test::FixtureImage {
 public:
  Result<std::vector<SlideFixup>> slide_fixups(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(start, function_start(fn, addr));
    std::vector<SlideFixup> out;
    for (uint32_t at : {0x40u}) {  // pretend a 32-bit absolute reference sits at +0x40 of each function
      if (start + at >= addr && start + at + 4 <= addr + len) out.push_back({uint32_t(start + at - addr), 4, 1});
    }
    return out;
  }
  Result<std::vector<uint8_t>> live_code(const std::string &fn, uint64_t addr, size_t len,
                                         uint64_t slide) const override {
    KX_ASSIGN(bytes, code(fn, addr, len));
    KX_ASSIGN(fx, slide_fixups(fn, addr, bytes.size()));
    return apply_slide(bytes, fx, slide);
  }
};

const std::string kBuildId = "3b43fad5034874490492495d552c0af6a5fab235";
constexpr uint64_t kSlide = 0x21000000;

std::vector<json> fixture_reports() {
  std::vector<json> out;
  for (auto &r : load("cached_consts.json"))
    if (r["id"] == "BLK_MAX_REQUEST_COUNT" || r["id"] == "SHRINK_BATCH") out.push_back(r);
  return out;
}

Bundle fixture_bundle() {
  FixtureImage img;
  Bundle b;
  b.reports = fixture_reports();
  b.code = code_excerpt(img, b.reports).value();
  b.module = std::string("\x7f" "ELF not really a module", 24);
  b.manifest = {{"kx_version", kx_version()},
                {"kernel", {{"build_id", kBuildId}, {"profile", "debian-6.1.0-56-cloud-amd64"}, {"text_base", "0xffffffff81000000"}}},
                {"consts", {"BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH"}}};
  return b;
}

bool same_site(const x_sie_site &a, const x_sie_site &b) { return memcmp(&a, &b, sizeof a) == 0; }

TEST(DeployBundle, ItsCodePlansTheSameTransactionAsTheKernelImage) {
  FixtureImage img;
  auto b = fixture_bundle();
  auto excerpt = excerpt_image(b.code);
  ASSERT_TRUE(excerpt) << excerpt.error().message;
  for (auto mode : {TransitionMode::global, TransitionMode::immediate}) {
    std::vector<ConstRequest> req = {{b.reports[0], 8}, {b.reports[1], 64}};
    auto want = plan_transaction(req, img, kBuildId, kSlide, mode);
    auto got = plan_transaction(req, **excerpt, kBuildId, kSlide, mode);
    ASSERT_TRUE(want) << want.error().message;
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->spans.size(), want->spans.size());
    for (size_t i = 0; i < got->spans.size(); ++i)
      EXPECT_EQ(memcmp(&got->spans[i], &want->spans[i], sizeof got->spans[i]), 0) << got->planned[i].label;
    ASSERT_EQ(got->safe_spans.size(), want->safe_spans.size());
    for (size_t i = 0; i < got->safe_spans.size(); ++i) {
      EXPECT_TRUE(same_site(got->safe_spans[i].entry, want->safe_spans[i].entry));
      EXPECT_EQ(memcmp(&got->safe_spans[i], &want->safe_spans[i], sizeof got->safe_spans[i]), 0);
    }
  }
}

// The probe-kind prediction sees the exception-table entries the bundle
// carries as the vmlinux's __ex_table has them.
class ImageWithFixups : public FixtureImage {
 public:
  Result<std::vector<uint64_t>> exception_sites(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(start, function_start(fn, addr));  // the first instruction, say a user access
    if (start >= addr && start - addr < len) return std::vector<uint64_t>{start};
    return std::vector<uint64_t>{};
  }
};

TEST(DeployBundle, ItCarriesTheExceptionTableForTheProbeKinds) {
  ImageWithFixups img;
  auto code = code_excerpt(img, fixture_reports());
  ASSERT_TRUE(code) << code.error().message;
  auto excerpt = excerpt_image(*code);
  ASSERT_TRUE(excerpt) << excerpt.error().message;
  auto t = plan_transaction({{fixture_reports()[0], 8}}, **excerpt, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_FALSE(t->predicted.empty());
  for (auto &[addr, p] : t->predicted) EXPECT_EQ(p.rule, "exception-table") << hex(addr);
  // A bundle without the field (made before the prediction) reads as none.
  for (auto &f : (*code)["functions"]) f.erase("extable");
  ASSERT_TRUE(excerpt_image(*code));
}

TEST(DeployBundle, SlideFixupsMoveTheLiveBytes) {
  std::vector<uint8_t> code = {0x90, 0x00, 0x00, 0x00, 0x81, 0x90};
  auto moved = apply_slide(code, {{1, 4, 1}}, 0x100);
  EXPECT_EQ(moved, (std::vector<uint8_t>{0x90, 0x00, 0x01, 0x00, 0x81, 0x90}));
  EXPECT_EQ(apply_slide(moved, {{1, 4, -1}}, 0x100), code);
  EXPECT_EQ(apply_slide(code, {{1, 4, 1}}, 0), code);
}

TEST(DeployBundle, RoundTripsThroughAFile) {
  test::TempDir dir;
  ASSERT_TRUE(write_bundle(dir / "b.kxb", fixture_bundle()));
  auto b = read_bundle(dir / "b.kxb");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->build_id(), kBuildId);
  EXPECT_EQ(b->text_base(), 0xffffffff81000000ull);
  EXPECT_EQ(b->manifest["format_version"], kBundleFormatVersion);
  EXPECT_EQ(b->manifest["members"].size(), 3u);
  EXPECT_EQ(b->reports.size(), 2u);
  EXPECT_EQ(b->module.size(), 24u);
  EXPECT_EQ(b->report("SHRINK_BATCH").value()["id"], "SHRINK_BATCH");
  auto missing = b->report("TCP_INIT_CWND");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "TCP_INIT_CWND is not in the bundle (it holds BLK_MAX_REQUEST_COUNT, SHRINK_BATCH)");
  EXPECT_FALSE(fs::exists(dir / "b.kxb.tmp"));
}

// Unpacks `bundle`, lets `edit` change the members, packs it again.
void repack(const fs::path &bundle, const fs::path &out, const std::function<void(const fs::path &)> &edit) {
  test::TempDir x;
  ASSERT_EQ(run({"tar", "-xzf", bundle.string(), "-C", x.path.string()}).value().exit_code, 0);
  edit(x.path);
  ASSERT_EQ(run({"tar", "-czf", out.string(), "-C", x.path.string(), "manifest.json", "reports.json", "code.json",
                 "x-sie.ko"})
                .value()
                .exit_code,
            0);
}

void expect_refused(const fs::path &file, const std::string &what) {
  auto b = read_bundle(file);
  ASSERT_FALSE(b) << file;
  EXPECT_NE(b.error().message.find(what), std::string::npos) << b.error().message;
  EXPECT_EQ(b.error().message.find('\n'), std::string::npos) << b.error().message;
}

TEST(DeployBundle, AnEditedMemberIsRefused) {
  test::TempDir dir;
  ASSERT_TRUE(write_bundle(dir / "b.kxb", fixture_bundle()));
  repack(dir / "b.kxb", dir / "edited.kxb", [](const fs::path &x) {
    auto text = read_file(x / "reports.json").value();
    text.replace(text.find("\"value\": 32"), 11, "\"value\": 64");
    ASSERT_TRUE(write_file_atomic(x / "reports.json", text));
  });
  expect_refused(dir / "edited.kxb", "member reports.json does not match its sha256 in the manifest");
  repack(dir / "b.kxb", dir / "module.kxb", [](const fs::path &x) {
    ASSERT_TRUE(write_file_atomic(x / "x-sie.ko", "something else"));
  });
  expect_refused(dir / "module.kxb", "member x-sie.ko does not match its sha256");
}

TEST(DeployBundle, ATruncatedOrForeignFileIsRefused) {
  test::TempDir dir;
  ASSERT_TRUE(write_bundle(dir / "b.kxb", fixture_bundle()));
  auto whole = read_file(dir / "b.kxb").value();
  ASSERT_TRUE(write_file_atomic(dir / "half.kxb", whole.substr(0, whole.size() / 2)));
  expect_refused(dir / "half.kxb", "truncated");
  ASSERT_TRUE(write_file_atomic(dir / "text.kxb", "BLK_MAX_REQUEST_COUNT = 8\n"));
  expect_refused(dir / "text.kxb", "is not a readable kernelx bundle");
  expect_refused(dir / "absent.kxb", "is not a readable kernelx bundle");
}

TEST(DeployBundle, AnotherFormatVersionOrAnUnlistedMemberIsRefused) {
  test::TempDir dir;
  ASSERT_TRUE(write_bundle(dir / "b.kxb", fixture_bundle()));
  repack(dir / "b.kxb", dir / "v2.kxb", [](const fs::path &x) {
    auto m = json::parse(read_file(x / "manifest.json").value());
    m["format_version"] = 2;
    ASSERT_TRUE(write_file_atomic(x / "manifest.json", m.dump()));
  });
  expect_refused(dir / "v2.kxb", "is bundle format 2; this kx reads format 1");
  repack(dir / "b.kxb", dir / "unlisted.kxb", [](const fs::path &x) {
    auto m = json::parse(read_file(x / "manifest.json").value());
    m["members"].erase(1);  // code.json
    ASSERT_TRUE(write_file_atomic(x / "manifest.json", m.dump()));
  });
  expect_refused(dir / "unlisted.kxb", "member code.json is not in the manifest");
}

TEST(DeployConfig, ReadsConstsAndTheTransition) {
  auto c = parse_config("# plugging\nBLK_MAX_REQUEST_COUNT = 8\n\n  transition=per-thread   # safe\nSHRINK_BATCH=0x40\n",
                        "/etc/kernelx/blk.conf");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->transition, "per-thread");
  ASSERT_EQ(c->values.size(), 2u);
  EXPECT_EQ(c->values[0].name, "BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(c->values[0].value, 8);
  EXPECT_EQ(c->values[0].line, 2);
  EXPECT_EQ(c->values[1].value, 64);
  auto same = parse_config("SHRINK_BATCH = 64\ntransition = per-thread\nBLK_MAX_REQUEST_COUNT = 8\n", "x.conf");
  EXPECT_EQ(same->key(), c->key());  // order, spacing and comments do not matter
  auto other = parse_config("SHRINK_BATCH = 64\nBLK_MAX_REQUEST_COUNT = 8\n", "x.conf");
  EXPECT_NE(other->key(), c->key());  // the transition does
  EXPECT_TRUE(parse_config("# nothing\n", "x.conf")->values.empty());
}

TEST(DeployConfig, BadLinesAreNamedByFileAndLine) {
  auto bad = [](const std::string &text, const std::string &what) {
    auto c = parse_config(text, "/etc/kernelx/a.conf");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().message, what);
  };
  bad("BLK_MAX_REQUEST_COUNT 8\n", "/etc/kernelx/a.conf:1: expected NAME = VALUE, got 'BLK_MAX_REQUEST_COUNT 8'");
  bad("\nBLK_MAX_REQUEST_COUNT = eight\n", "/etc/kernelx/a.conf:2: 'eight' is not an integer");
  bad("transition = fast\n", "/etc/kernelx/a.conf:1: transition is global, per-thread or immediate, not 'fast'");
  bad("A = 1\nA = 2\n", "/etc/kernelx/a.conf:2: A is given twice (first on line 1)");
  bad("policy = a.bpf.o\npolicy = b.bpf.o\n", "/etc/kernelx/a.conf:2: policy is given twice (first on line 1)");
}

TEST(DeployConfig, APolicyIsAPathFromTheConfigsDirectoryAndCountsByItsBytes) {
  auto c = parse_config("policy = plug.bpf.o\nSHRINK_BATCH = 64\n", "/etc/kernelx/blk.conf");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->policy, "/etc/kernelx/plug.bpf.o");
  EXPECT_EQ(c->policy_line, 1);
  EXPECT_FALSE(c->empty());
  EXPECT_EQ(parse_config("policy = /opt/p.bpf.o\n", "/etc/kernelx/a.conf")->policy, "/opt/p.bpf.o");
  EXPECT_TRUE(parse_config("# nothing\n", "x.conf")->empty());
  auto recompiled = *c;
  c->policy_sha256 = "aa";
  recompiled.policy_sha256 = "bb";
  EXPECT_NE(c->key(), recompiled.key());  // a recompiled object is a change
  auto without = parse_config("SHRINK_BATCH = 64\n", "/etc/kernelx/blk.conf");
  EXPECT_NE(without->key(), c->key());
}

// What kx apply checks of a compiled policy's stamp against the bundle.
TEST(DeployPolicy, AStampForAnotherKernelOrAnalysisOrConstIsRefused) {
  CompiledPolicy p;
  p.file = "/etc/kernelx/plug.bpf.o";
  p.stamp.build_id = kBuildId;
  p.stamp.analyses = {{"BLK_MAX_REQUEST_COUNT", "0.1+abc"}};
  p.ids = {"BLK_MAX_REQUEST_COUNT"};
  const std::map<std::string, std::string> bundle = {{"BLK_MAX_REQUEST_COUNT", "0.1+abc"}, {"SHRINK_BATCH", "0.1+abc"}};
  EXPECT_TRUE(check_policy_stamp(p, kBuildId, bundle, "the bundle"));
  auto refused = [&](const CompiledPolicy &q, const std::string &what) {
    auto r = check_policy_stamp(q, kBuildId, bundle, "the bundle");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, what);
  };
  auto other = p;
  other.stamp.build_id = std::string(40, '0');
  refused(other, "/etc/kernelx/plug.bpf.o was compiled for kernel build-id " + std::string(40, '0') +
                     ", not the bundle's (" + kBuildId + "): recompile it with kx compile");
  auto stale = p;
  stale.stamp.analyses["BLK_MAX_REQUEST_COUNT"] = "0.1+old";
  refused(stale, "/etc/kernelx/plug.bpf.o was compiled against analysis 0.1+old of BLK_MAX_REQUEST_COUNT, the "
                 "bundle has 0.1+abc: recompile it with kx compile");
  auto unknown = p;
  unknown.stamp.analyses["TCP_INIT_CWND"] = "0.1+abc";
  refused(unknown, "/etc/kernelx/plug.bpf.o tunes TCP_INIT_CWND, which is not in the bundle");
}

TEST(DeployPolicy, AMissingOrNonBpfFileIsNotACompiledPolicy) {
  test::TempDir dir;
  auto missing = inspect_x_tune(dir / "absent.bpf.o");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "no compiled policy at " + (dir / "absent.bpf.o").string());
  ASSERT_TRUE(write_file_atomic(dir / "junk.bpf.o", "int main() {}\n"));
  auto junk = inspect_x_tune(dir / "junk.bpf.o");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find("is not a compiled X-tune policy (not a BPF object file"), std::string::npos)
      << junk.error().message;
  auto self = inspect_x_tune(KX_BIN);  // an ELF file, but not a BPF object
  ASSERT_FALSE(self);
  EXPECT_NE(self.error().message.find("not a BPF object file"), std::string::npos) << self.error().message;
}

TEST(DeployConfig, ADirectoryIsItsConfFilesInNameOrder) {
  test::TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "20-shrink.conf", "SHRINK_BATCH = 64\n"));
  ASSERT_TRUE(write_file_atomic(dir / "10-blk.conf", "BLK_MAX_REQUEST_COUNT = 8\n"));
  ASSERT_TRUE(write_file_atomic(dir / "README", "not a config\n"));
  auto cs = read_configs(dir.path);
  ASSERT_TRUE(cs) << cs.error().message;
  ASSERT_EQ(cs->size(), 2u);
  EXPECT_EQ((*cs)[0].file.filename(), "10-blk.conf");
  EXPECT_EQ((*cs)[1].file.filename(), "20-shrink.conf");
  EXPECT_FALSE(read_configs(dir / "absent"));
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

using test::kx;

void expect_one_error_line(const RunResult &r, const std::string &what) {
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("kx: error: ", 0), 0u) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << r.output;
  EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
}

// On this host (another kernel than the bundle's): kx apply --dry-run shows
// the plan at link addresses, kx apply itself refuses; bad input is one line.
TEST(DeployCli, ApplyRefusesAnotherKernelAndBadInputWithOneLine) {
  test::TempDir dir;
  ASSERT_TRUE(write_bundle(dir / "b.kxb", fixture_bundle()));
  ASSERT_TRUE(write_file_atomic(dir / "blk.conf", "BLK_MAX_REQUEST_COUNT = 8\ntransition = per-thread\n"));
  std::map<std::string, std::string> env = {{"KX_RUN_DIR", (dir / "run").string()}};
  auto b = (dir / "b.kxb").string(), conf = (dir / "blk.conf").string();

  auto dry = kx({"apply", b, "--config", conf, "--dry-run"}, env);
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("BLK_MAX_REQUEST_COUNT = 8, proven for ["), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("transition: per-thread"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("link addresses"), std::string::npos) << dry.output;

  expect_one_error_line(kx({"apply", b, "--config", conf}, env), "is not the bundle's (" + kBuildId +
                                                                     "): refused, nothing attached");
  EXPECT_FALSE(fs::exists(dir / "run"));  // no state, no module written

  ASSERT_TRUE(write_file_atomic(dir / "unknown.conf", "TCP_INIT_CWND = 20\n"));
  expect_one_error_line(kx({"apply", b, "--config", (dir / "unknown.conf").string(), "--dry-run"}, env),
                        "unknown.conf:1: TCP_INIT_CWND is not in the bundle");
  ASSERT_TRUE(write_file_atomic(dir / "range.conf", "BLK_MAX_REQUEST_COUNT = 99999999999\n"));
  expect_one_error_line(kx({"apply", b, "--config", (dir / "range.conf").string(), "--dry-run"}, env),
                        "is outside [");
  ASSERT_TRUE(write_file_atomic(dir / "half.kxb", read_file(dir / "b.kxb").value().substr(0, 1000)));
  expect_one_error_line(kx({"apply", (dir / "half.kxb").string(), "--config", conf}, env), "truncated");
  expect_one_error_line(kx({"apply", "--config", conf}, {{"KX_BUNDLE_DIR", (dir / "none").string()}}),
                        "no bundle for the running kernel");
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

// kx bundle on the analysis host (the module stands in: building x-sie.ko
// is a lab step), then kx apply --dry-run from the bundle alone plans
// exactly what kx set --dry-run plans from the debug vmlinux.
TEST(DeployCli, TheBundlePlansWhatTheScopeTablePlans) {
  if (auto why = test::analyse_if_stale({"BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH"}); !why.empty()) {
    ASSERT_EQ(why.rfind("FAILED", 0), std::string::npos) << why;
    GTEST_SKIP() << why;
  }
  test::TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "fake.ko", "not a module"));
  auto b = (dir / "b.kxb").string();
  auto made = kx({"bundle", "BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH", "-o", b}, {{"KX_XSIE_MODULE", (dir / "fake.ko").string()}});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_NE(made.output.find("wrote " + b + ": 2 const(s) (BLK_MAX_REQUEST_COUNT, SHRINK_BATCH)"), std::string::npos)
      << made.output;
  auto bundle = read_bundle(b);
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->module, "not a module");

  ASSERT_TRUE(write_file_atomic(dir / "two.conf", "BLK_MAX_REQUEST_COUNT = 8\nSHRINK_BATCH = 64\n"));
  auto applied = kx({"apply", b, "--config", (dir / "two.conf").string(), "--dry-run", "--json"});
  auto set = kx({"set", "--dry-run", "--json", "BLK_MAX_REQUEST_COUNT=8", "SHRINK_BATCH=64"});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_EQ(set.exit_code, 0) << set.output;
  auto plan = [](const std::string &out) {
    auto j = json::parse(out);
    for (auto k : {"what", "kernel", "why_link_addresses"}) j.erase(k);
    return j;
  };
  EXPECT_EQ(plan(applied.output), plan(set.output));

  auto nothing = kx({"bundle", "-o", b});
  EXPECT_EQ(nothing.exit_code, 1) << nothing.output;
  EXPECT_NE(nothing.output.find("name the consts to bundle, or --all"), std::string::npos) << nothing.output;
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

using test::kx;

// A policy compiled once (kx compile) is applied from a config with the
// bundle alone; one for another bundle, kernel build or none at all is one
// line and nothing planned. (The lab applies one on the live kernel.)
TEST(DeployCli, ApplyTakesACompiledPolicyMadeForTheBundle) {
  if (auto why = test::analyse_if_stale({"BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH"}); !why.empty()) {
    ASSERT_EQ(why.rfind("FAILED", 0), std::string::npos) << why;
    GTEST_SKIP() << why;
  }
  test::TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "fake.ko", "not a module"));
  const std::map<std::string, std::string> ko = {{"KX_XSIE_MODULE", (dir / "fake.ko").string()}};
  auto b = (dir / "b.kxb").string(), shrink = (dir / "shrink.kxb").string();
  ASSERT_EQ(kx({"bundle", "BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH", "-o", b}, ko).exit_code, 0);
  ASSERT_EQ(kx({"bundle", "SHRINK_BATCH", "-o", shrink}, ko).exit_code, 0);
  auto src = (dir / "plug.bpf.c").string(), obj = (dir / "plug.bpf.o").string();
  ASSERT_EQ(kx({"gen", "BLK_MAX_REQUEST_COUNT", "-o", src}).exit_code, 0);
  auto compiled = kx({"compile", src, "-o", obj});
  ASSERT_EQ(compiled.exit_code, 0) << compiled.output;
  EXPECT_NE(compiled.output.find("wrote " + obj + ": 1 X-tune(s)"), std::string::npos) << compiled.output;

  ASSERT_TRUE(write_file_atomic(dir / "plug.conf", "policy = plug.bpf.o\ntransition = per-thread\n"));
  auto conf = (dir / "plug.conf").string();
  auto dry = kx({"apply", b, "--config", conf, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("plug.conf: policy plug.bpf.o (BLK_MAX_REQUEST_COUNT), planned"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("BLK_MAX_REQUEST_COUNT: set by an X-tune policy"), std::string::npos) << dry.output;
  auto json_plan = json::parse(kx({"apply", b, "--config", conf, "--dry-run", "--json"}).output);
  EXPECT_TRUE(json_plan["consts"][0]["policy"].get<bool>());
  EXPECT_EQ(json_plan["transition"], "per-thread");

  auto refused = [&](const std::string &bundle, const std::string &text, const std::string &what) {
    ASSERT_TRUE(write_file_atomic(dir / "bad.conf", text));
    expect_one_error_line(kx({"apply", bundle, "--config", (dir / "bad.conf").string(), "--dry-run"}), what);
  };
  refused(shrink, "policy = plug.bpf.o\n",
          "bad.conf:1: " + obj + " tunes BLK_MAX_REQUEST_COUNT, which is not in the bundle (it holds SHRINK_BATCH)");
  refused(b, "BLK_MAX_REQUEST_COUNT = 8\npolicy = plug.bpf.o\n",
          "bad.conf:2: BLK_MAX_REQUEST_COUNT is set on line 1 and by the policy: one or the other");
  refused(b, "policy = absent.bpf.o\n", "bad.conf:1: no compiled policy at " + (dir / "absent.bpf.o").string());
  ASSERT_TRUE(write_file_atomic(dir / "half.bpf.o", read_file(obj).value().substr(0, 600)));
  refused(b, "policy = half.bpf.o\n", "bad.conf:1: " + (dir / "half.bpf.o").string());
  auto objcopy = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "llvm-objcopy");
    auto r = run(args);
    ASSERT_TRUE(r && r->exit_code == 0) << (r ? r->output : r.error().message);
  };
  objcopy({"--remove-section", ".kernelx.policy", obj, (dir / "plain.bpf.o").string()});
  refused(b, "policy = plain.bpf.o\n", "plain.bpf.o carries no kernelx stamp: compile it with kx compile");
  // A consistent stamp, for another kernel build.
  auto stamp = (dir / "stamp.json").string();
  objcopy({"--dump-section", ".kernelx.policy=" + stamp, obj, (dir / "copy.o").string()});
  auto j = json::parse(read_file(stamp).value());
  j["kernel"]["build_id"] = std::string(40, '0');
  ASSERT_TRUE(write_file_atomic(stamp, j.dump()));
  objcopy({"--update-section", ".kernelx.policy=" + stamp, obj, (dir / "foreign.bpf.o").string()});
  refused(b, "policy = foreign.bpf.o\n", "foreign.bpf.o was compiled for kernel build-id " + std::string(40, '0'));

  // kx load takes the same object on the build host, checked the same way.
  auto load_dry = kx({"load", obj, "--dry-run"});
  ASSERT_EQ(load_dry.exit_code, 0) << load_dry.output;
  EXPECT_NE(load_dry.output.find("BLK_MAX_REQUEST_COUNT: set by an X-tune policy"), std::string::npos) << load_dry.output;
  expect_one_error_line(kx({"load", (dir / "foreign.bpf.o").string(), "--dry-run"}),
                        "foreign.bpf.o was compiled for kernel build-id " + std::string(40, '0'));
}

}  // namespace
}  // namespace kx
