// Process-wide logging set-up: an asynchronous stderr logger as spdlog's
// default, so log calls on gRPC threads never wait for the terminal.
#ifndef USERS_SERVER_LOGGING_H_
#define USERS_SERVER_LOGGING_H_

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "middleware/access_log.h"

namespace users {

// Installs the default (asynchronous) logger. `level` is one of spdlog's
// names (trace, debug, info, warn, error, critical, off). Access lines do not
// go through spdlog: see middleware/access_log.h.
void InitLogging(LogFormat format, const std::string& level);

}  // namespace users

#endif  // USERS_SERVER_LOGGING_H_
