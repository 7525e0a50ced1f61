#include "util/analysis_version.h"

#include "analysis_digest.h"

namespace kx {

const std::string &analysis_version() {
  static const std::string v = KX_ANALYSIS_VERSION;
  return v;
}

}  // namespace kx
