// docs/deploy.md's systemd drop-ins, read out of the page: applied to copies
// of tools/systemd's units, systemd-analyze verify finds nothing to say
// about them, and parleyd takes the flags the service's drop-in gives it.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "doc_blocks.hpp"
#include "harness.hpp"

using namespace parley::test;

namespace {

constexpr const char* service_dropin = "/etc/systemd/system/parleyd.service.d/override.conf";
constexpr const char* admin_dropin = "/etc/systemd/system/parleyd-admin.socket.d/override.conf";
const std::vector<std::string> units{"parleyd.service", "parleyd.socket", "parleyd-admin.socket"};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of `text` that start with `key`=, their values in order.
std::vector<std::string> values(const std::string& text, const std::string& key) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key + "=")) out.push_back(line.substr(key.size() + 1));
  return out;
}

// A copy of tools/systemd's units in a directory of the test's own, with a
// drop-in directory beside each unit as in /etc/systemd/system.
// systemd-analyze verify reads the drop-ins from beside the files it is
// given, as systemd does from its unit directories.
class UnitDir {
 public:
  UnitDir() : dir_(temp_path("dropins")) {
    REQUIRE(::mkdir(dir_.c_str(), 0700) == 0);
    for (const std::string& unit : units) {
      std::string text = read_text(source_file("tools/systemd/" + unit));
      // verify wants the program to exist: the parleyd just built.
      const std::string installed = "ExecStart=" + program("PARLEYD_INSTALLED");
      if (const std::size_t at = text.find(installed); at != std::string::npos)
        text.replace(at, installed.size(), "ExecStart=" + program("PARLEYD"));
      write(unit, text);
    }
  }
  ~UnitDir() {
    for (const std::string& file : files_) ::unlink((dir_ + "/" + file).c_str());
    for (const std::string& unit : units) ::rmdir((dir_ + "/" + unit + ".d").c_str());
    ::rmdir(dir_.c_str());
  }
  UnitDir(const UnitDir&) = delete;
  UnitDir& operator=(const UnitDir&) = delete;

  // `text` as `unit`'s drop-in override.conf.
  void drop_in(const std::string& unit, const std::string& text) {
    ::mkdir((dir_ + "/" + unit + ".d").c_str(), 0700);
    write(unit + ".d/override.conf", text);
  }

  // systemd-analyze verify on the three units: its exit status and output.
  std::pair<int, std::string> verify() {
    std::vector<std::string> argv{"systemd-analyze", "verify"};
    for (const std::string& unit : units) argv.push_back(dir_ + "/" + unit);
    ChildProcess run(argv, "");
    const int status = run.wait();
    return {status, run.output()};
  }

 private:
  void write(const std::string& file, const std::string& text) {
    std::ofstream(dir_ + "/" + file) << text;
    files_.push_back(file);
  }

  std::string dir_;
  std::vector<std::string> files_;
};

}  // namespace

TEST_CASE("docs/deploy.md's drop-ins: systemd-analyze verify finds nothing to say") {
  const std::string service = doc_block("docs/deploy.md", std::string("# ") + service_dropin);
  const std::string admin = doc_block("docs/deploy.md", std::string("# ") + admin_dropin);
  INFO(service_dropin << ":\n" << service << admin_dropin << ":\n" << admin);

  // The page's command runs what meson installs; verify runs the one built.
  const std::vector<std::string> exec = values(service, "ExecStart");
  REQUIRE(exec.size() == 2);
  CHECK(exec[0].empty());  // clears the unit's own ExecStart=
  CHECK_MESSAGE(exec[1].starts_with(program("PARLEYD_INSTALLED") + " "), "ExecStart=" << exec[1]);
  const std::vector<std::string> listen = values(admin, "ListenStream");
  REQUIRE(listen.size() == 2);
  CHECK(listen[0].empty());  // clears the unit's 127.0.0.1:7668
  CHECK(listen[1] != "127.0.0.1:7668");
  const std::string built = substitute(service, {{"ExecStart=" + program("PARLEYD_INSTALLED") + " ",
                                                  "ExecStart=" + program("PARLEYD") + " "}});

  UnitDir dir;
  dir.drop_in("parleyd.service", built);
  dir.drop_in("parleyd-admin.socket", admin);
  const auto [status, output] = dir.verify();
  CHECK_MESSAGE(status == 0, output);
  CHECK_MESSAGE(output.empty(), output);  // unknown keys are only warned about

  // verify did read the drop-ins: without the clearing line it refuses the
  // second ExecStart=, as systemd would.
  dir.drop_in("parleyd.service", substitute(built, {{"\nExecStart=\n", "\n"}}));
  const auto [refused, complaint] = dir.verify();
  CHECK(refused != 0);
  CHECK_MESSAGE(contains(complaint, "more than one ExecStart= setting"), complaint);
}

TEST_CASE("docs/deploy.md's service drop-in: no --listen or --admin, and parleyd takes its flags") {
  const std::string service = doc_block("docs/deploy.md", std::string("# ") + service_dropin);
  const std::vector<std::string> exec = values(service, "ExecStart");
  REQUIRE(exec.size() == 2);
  std::istringstream in(exec[1]);
  std::vector<std::string> flags;
  for (std::string word; in >> word;) flags.push_back(word);
  REQUIRE(!flags.empty());
  flags.erase(flags.begin());  // the program
  // The sockets come from the socket units.
  for (const std::string& flag : flags) {
    CHECK_FALSE(flag.starts_with("--listen"));
    CHECK_FALSE(flag.starts_with("--admin"));
  }

  // With those flags a TCP listener (here the harness's 127.0.0.1:0 in
  // place of parleyd.socket's) expects a PROXY header from the balancer
  // alone: a loopback client is no trusted proxy.
  ServerProcess server(flags);
  Client untrusted(server.address());
  const json error = untrusted.next();
  CHECK(error["code"] == "bad_proxy_header");
  CHECK_MESSAGE(contains(error["message"].get<std::string>(), "127.0.0.1 is not a trusted proxy"), error.dump());
  CHECK(untrusted.wait_closed());
  // --trusted-proxy has a proxy listener to restrict (parleyd warns otherwise).
  CHECK_MESSAGE(!contains(server.log(), "restricts nothing"), server.log());
}
