// The admin page's files (admin/*.html, *.js, *.css), built into the binary
// at build time (cmake/EmbedFiles.cmake), so that users-server serves the
// page with nothing installed beside it and no CDN.
#ifndef USERS_ADMIN_ASSETS_H_
#define USERS_ADMIN_ASSETS_H_

#include <string_view>

namespace users {

struct AdminAsset {
  std::string_view path;  // "/app.js"
  std::string_view content_type;
  std::string_view data;
};

// The file served at `path` ("/" is /index.html), or null.
const AdminAsset* FindAdminAsset(std::string_view path);

}  // namespace users

#endif  // USERS_ADMIN_ASSETS_H_
