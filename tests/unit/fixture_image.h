// The analysed kernel's code as a fixture, for the tests that plan
// transactions: the functions of the cached consts cut from the Debian 6.1
// debug vmlinux (tests/fixtures/runtime/code.json), and the fixture files
// beside it.
#pragma once
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/running_kernel.h"
#include "runtime/transaction.h"  // KernelImage

namespace kx::test {

inline nlohmann::json load_runtime_fixture(const std::string &name) {
  std::ifstream in(std::string(KX_FIXTURES) + "/runtime/" + name);
  return nlohmann::json::parse(in);
}

class FixtureImage : public KernelImage {
 public:
  FixtureImage() {
    const nlohmann::json code = load_runtime_fixture("code.json");  // items() refers to it: it must outlive the loop
    for (auto &[fn, f] : code.items()) {
      Fn x;
      x.start = std::stoull(f["start"].get<std::string>(), nullptr, 16);
      std::string hex = f["bytes"];
      for (size_t i = 0; i + 1 < hex.size(); i += 2) x.bytes.push_back(std::stoul(hex.substr(i, 2), nullptr, 16));
      fns[fn] = x;
    }
  }
  Result<uint64_t> function_start(const std::string &fn, uint64_t addr) const override {
    auto it = fns.find(fn);
    if (it == fns.end() || addr < it->second.start || addr >= it->second.start + it->second.bytes.size())
      return make_error("not inside " + fn);
    return it->second.start;
  }
  Result<std::vector<uint8_t>> code(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(start, function_start(fn, addr));
    const auto &b = fns.at(fn).bytes;
    size_t off = addr - start, n = std::min(len, b.size() - off);
    return std::vector<uint8_t>(b.begin() + off, b.begin() + off + n);
  }
  std::optional<uint64_t> symbol(const std::string &name) const override {
    if (name == "__x86_return_thunk") return 0xffffffff81e01ef0ull;  // as in the debug vmlinux
    return std::nullopt;
  }
  struct Fn {
    uint64_t start = 0;
    std::vector<uint8_t> bytes;
  };
  std::map<std::string, Fn> fns;
};

}  // namespace kx::test
