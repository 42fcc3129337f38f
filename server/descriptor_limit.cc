#include "server/descriptor_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace users {

size_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? size_t{1} << 20
                                         : static_cast<size_t>(limit.rlim_cur);
}

size_t DefaultMaxConnections(size_t descriptor_limit) {
  const size_t reserve = std::max<size_t>(64, descriptor_limit / 8);
  return descriptor_limit > reserve ? descriptor_limit - reserve : 1;
}

}  // namespace users
