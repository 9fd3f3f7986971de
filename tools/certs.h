// `chainfs certs`: the cluster's CA and certificates (common/tls/ca.h does the work).
//   chainfs certs init DIR        CA key + certificate and the ZooKeeper secret (zk-auth)
//   chainfs certs issue --role R --name HOST [--name HOST...] [--file NAME] [--days N] DIR
//                                 NAME.key (0600) and NAME.crt signed by DIR's CA, with the
//                                 role R and the names as SANs (NAME defaults to R; a
//                                 repeated --role gives several, for tests)
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace chainfs::cli {

class CertsCommand {
 public:
  // Registers `certs` with its two subcommands on `app`.
  explicit CertsCommand(CLI::App& app);
  // True when the command line chose `certs`.
  bool chosen() const;
  // Runs it; returns the exit code (0 ok, 1 failed, 2 usage).
  int Run() const;

 private:
  CLI::App* certs_;
  CLI::App* init_;
  CLI::App* issue_;
  std::string dir_;
  std::vector<std::string> roles_;
  std::vector<std::string> names_;
  std::string file_;
  int days_ = 365;
};

}  // namespace chainfs::cli
