#include "server/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "server/secret_file.h"

namespace users {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bio Reader(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
             &BIO_free);
}

Cert FirstCertificate(const std::string& pem) {
  Bio bio = Reader(pem);
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
              &X509_free);
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files, const std::string& cert_path,
                           const std::string& key_path,
                           const std::string& client_ca_path) {
  Cert cert = FirstCertificate(files.cert_chain);
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "--tls-cert " + cert_path +
        ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  }
  Bio bio = Reader(files.private_key);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
          &EVP_PKEY_free);
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "--tls-key " + key_path +
        ": no unencrypted PEM private key in it (expected -----BEGIN "
        "PRIVATE KEY-----)");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "--tls-key " + key_path + " does not match the certificate in " +
        "--tls-cert " + cert_path + " (give the key it was issued for)");
  }
  if (!client_ca_path.empty() && !FirstCertificate(files.client_ca)) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "--tls-client-ca " + client_ca_path +
        ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_path,
                                      const std::string& key_path,
                                      const std::string& client_ca_path,
                                      bool allow_readable_key) {
  TlsFiles files;
  auto cert = ReadStartupFile(cert_path);
  if (!cert.ok()) return cert.status();
  files.cert_chain = std::move(*cert);
  if (!allow_readable_key) {
    if (auto s = CheckSecretFilePermissions("--tls-key", key_path); !s.ok()) {
      return s;
    }
  }
  auto key = ReadStartupFile(key_path);
  if (!key.ok()) return key.status();
  files.private_key = std::move(*key);
  if (!client_ca_path.empty()) {
    auto ca = ReadStartupFile(client_ca_path);
    if (!ca.ok()) return ca.status();
    files.client_ca = std::move(*ca);
  }
  if (auto s = CheckTlsFiles(files, cert_path, key_path, client_ca_path);
      !s.ok()) {
    return s;
  }
  return files;
}

}  // namespace users
