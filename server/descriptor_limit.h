// The process's file-descriptor limit, and the connection cap derived from
// it. Every connection holds a descriptor; running out of them is what takes
// a listener down, so the server raises the soft limit as far as it may and
// keeps connections well below it.
#ifndef USERS_SERVER_DESCRIPTOR_LIMIT_H_
#define USERS_SERVER_DESCRIPTOR_LIMIT_H_

#include <cstddef>

namespace users {

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the soft
// limit in force afterwards.
size_t RaiseDescriptorLimit();

// The default --max-connections for a descriptor limit: the limit less a
// reserve for the database, logs and the metrics endpoint (an eighth of it,
// at least 64), and never less than 1.
size_t DefaultMaxConnections(size_t descriptor_limit);

}  // namespace users

#endif  // USERS_SERVER_DESCRIPTOR_LIMIT_H_
