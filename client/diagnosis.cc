#include "client/diagnosis.h"

#include <string_view>

namespace users::client {
namespace {

bool Has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string Seconds(double s) {
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

Diagnosis Diagnose(const grpc::Status& status, const CallSetting& setting) {
  const std::string& message = status.error_message();
  const std::string& target = setting.target;
  Diagnosis d;
  auto set = [&](bool no_connection, std::string summary, std::string hint) {
    d.recognised = true;
    d.no_connection = no_connection;
    d.summary = std::move(summary);
    d.hint = std::move(hint);
    return d;
  };
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (Has(message, "DNS resolution failed") ||
          Has(message, "Domain name not found") ||
          Has(message, "Name or service not known")) {
        return set(true, "the name in " + target + " does not resolve",
                   "check the host name in --target (or USERS_TARGET)");
      }
      if (Has(message, "Connection refused")) {
        return set(true, "nothing listens at " + target,
                   "is users-server running, on this host and port (--port)?");
      }
      if (Has(message, "wrong version number") ||
          Has(message, "packet length too long") ||
          Has(message, "http request")) {
        return set(true, "the server at " + target + " does not speak TLS",
                   "drop --tls-ca/--tls-cert/--tls-key, or start the server "
                   "with --tls-cert and --tls-key");
      }
      if (Has(message, "certificate verify failed")) {
        return set(true,
                   "the server's certificate is not trusted (not signed by "
                   "--tls-ca, or expired)",
                   "pass --tls-ca with the CA that signed the server's "
                   "certificate (make certs writes certs/ca.pem)");
      }
      if (Has(message, "not in peer certificate") ||
          Has(message, "Peer name")) {
        return set(
            true,
            "the server's certificate is not valid for the name in " + target,
            "connect with a name the certificate lists (make certs: "
            "localhost, 127.0.0.1, ::1), or reissue it");
      }
      if (Has(message, "certificate required") ||
          Has(message, "alert handshake failure")) {
        return set(true, "the server requires a client certificate",
                   "pass --tls-cert and --tls-key (mutual TLS)");
      }
      // pick_first says "failed to connect to all addresses"; round_robin
      // (our service config) "connections to all backends failing".
      if (Has(message, "Socket closed") || Has(message, "Connection reset") ||
          Has(message, "failed to connect to all addresses") ||
          Has(message, "connections to all backends failing")) {
        if (!setting.tls) {
          return set(true,
                     "the server at " + target +
                         " closed the connection; it probably speaks TLS",
                     "pass --tls-ca FILE, the CA that signed its certificate");
        }
        if (!setting.client_certificate) {
          return set(true,
                     "the server at " + target +
                         " closed the TLS connection; it probably requires a "
                         "client certificate",
                     "pass --tls-cert and --tls-key (mutual TLS)");
        }
        return set(true, "the server at " + target + " closed the connection",
                   "is it a gRPC server, and not at its connection limit? "
                   "--verbose shows grpc's detail");
      }
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (message == "Deadline Exceeded") {  // grpc's own, not the server's
        return set(false,
                   "no answer from " + target + " within " +
                       Seconds(setting.timeout_s) + " s",
                   "is that a gRPC server? raise --timeout for a slow call");
      }
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (!setting.token) {
        return set(false, message,
                   "the server requires a token: pass --token TOKEN or set "
                   "USERS_TOKEN");
      }
      return set(false, message,
                 "the token was rejected: check it against the server's "
                 "--auth-tokens file");
    case grpc::StatusCode::PERMISSION_DENIED:
      return set(false, message, "use a token with the writer role for writes");
    default:
      break;
  }
  return d;
}

}  // namespace users::client
