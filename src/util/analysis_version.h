// Which analysis produced a result (issue 13): "<kx version>+<digest>",
// the digest taken at build time over the sources of the seeds, the lifter,
// synthesis and proof, and the range checks (scripts/analysis_version.cmake).
// Every report carries it; a report whose version is not this one was
// proven by other code and is not trusted.
#pragma once
#include <string>

namespace kx {

const std::string &analysis_version();

}  // namespace kx
