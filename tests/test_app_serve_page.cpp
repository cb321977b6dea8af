// The web page of `bcqnmt serve` in a real browser: headless Chromium driven by chromedriver
// over the W3C WebDriver HTTP API (httplib's client; no Python). It types a sentence, clicks
// Translate and checks that the page shows the API's translation and draws the attention
// map; then the same through a /?text= link. SKIPPED (with the reason) when chromium or
// chromedriver is not installed (Debian: chromium, chromium-driver).
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "serve_process.h"
#include "tiny_run.h"

using namespace bcqnmt::test;

namespace {

// The program's path in $PATH, "" if absent.
std::string find_program(const std::string& name) {
  std::istringstream path(std::getenv("PATH") ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');)
    if (!dir.empty() && access((std::filesystem::path(dir) / name).c_str(), X_OK) == 0)
      return (std::filesystem::path(dir) / name).string();
  return "";
}

// A port nothing listens on now (the kernel's pick for port 0).
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(s, reinterpret_cast<sockaddr*>(&address), &length);
  close(s);
  return ntohs(address.sin_port);
}

constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";  // W3C WebDriver's element key

// One browser session; deleted (the browser closed) when it goes out of scope.
class WebDriverSession {
 public:
  WebDriverSession(int port, const std::string& chromium) : client_("127.0.0.1", port) {
    client_.set_read_timeout(60);
    // --no-sandbox: tests may run as root in a container, where Chromium's sandbox cannot start.
    const nlohmann::json answer = call("POST", "/session",
                                       {{"capabilities",
                                         {{"alwaysMatch",
                                           {{"goog:chromeOptions",
                                             {{"binary", chromium},
                                              {"args", {"--headless", "--no-sandbox", "--disable-gpu"}}}}}}}}});
    id_ = answer.at("value").value("sessionId", "");
  }
  ~WebDriverSession() {
    if (!id_.empty()) client_.Delete(("/session/" + id_).c_str());
  }
  bool started() const { return !id_.empty(); }

  // The command's "value" (the whole answer for creating the session); null when the
  // driver answered with an error (printed). `path` follows /session/ID once there is one.
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    const std::string full = id_.empty() ? path : "/session/" + id_ + path;  // before the session: "/session"
    const httplib::Result r = method == "GET" ? client_.Get(full.c_str())
                                              : client_.Post(full.c_str(), body.is_null() ? "{}" : body.dump(), "application/json");
    if (!r) {
      MESSAGE("WebDriver " << method << " " << full << ": " << httplib::to_string(r.error()));
      return nullptr;
    }
    const nlohmann::json answer = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status != 200) {
      MESSAGE("WebDriver " << method << " " << full << ": " << r->status << " " << r->body.substr(0, 300));
      return nullptr;
    }
    return path == "/session" ? answer : answer.value("value", nlohmann::json());
  }
  std::string element(const std::string& css) {
    const nlohmann::json e = call("POST", "/element", {{"using", "css selector"}, {"value", css}});
    return e.is_object() ? e.value(kElement, "") : "";
  }
  size_t count(const std::string& css) {
    const nlohmann::json e = call("POST", "/elements", {{"using", "css selector"}, {"value", css}});
    return e.is_array() ? e.size() : 0;
  }
  // The element's visible text once it is not empty (up to 30 s).
  std::string text_when_filled(const std::string& css) {
    const std::string e = element(css);
    for (int i = 0; i < 300; ++i) {
      const nlohmann::json t = call("GET", "/element/" + e + "/text");
      if (t.is_string() && !t.get<std::string>().empty()) return t;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "";
  }

 private:
  httplib::Client client_;
  std::string id_;
};

}  // namespace

TEST_CASE("serve's page in headless Chromium: typed Portuguese, the API's English, the attention map") {
  const std::string chromium = find_program("chromium"), driver = find_program("chromedriver");
  if (chromium.empty() || driver.empty()) {
    MESSAGE("SKIPPED: " << (chromium.empty() ? "chromium" : "chromedriver")
                        << " is not installed (Debian packages chromium and chromium-driver)");
    return;
  }
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  ServeProcess server({"--run", t.run.string()});
  REQUIRE(server.port > 0);
  const std::string page = "http://127.0.0.1:" + std::to_string(server.port) + "/";
  auto api = [&](const std::string& sentence) {
    httplib::Client client("127.0.0.1", server.port);
    const httplib::Result r = client.Post("/translate", nlohmann::json{{"text", {sentence}}}.dump(), "application/json");
    REQUIRE(r);
    return nlohmann::json::parse(r->body).at("translations").at(0).get<std::string>();
  };

  const int driver_port = free_port();
  ScratchDir driver_io;
  BackgroundProcess chromedriver({driver, "--port=" + std::to_string(driver_port)}, driver_io.path);
  REQUIRE(!chromedriver.wait_for_output(std::regex("(started successfully)"), std::chrono::seconds(30)).empty());
  WebDriverSession browser(driver_port, chromium);
  REQUIRE(browser.started());

  const std::string sentence = "kalo mine suta .";
  browser.call("POST", "/url", {{"url", page}});
  const std::string source = browser.element("#source");
  REQUIRE(!source.empty());
  browser.call("POST", "/element/" + source + "/clear");
  browser.call("POST", "/element/" + source + "/value", {{"text", sentence}});
  browser.call("POST", "/element/" + browser.element("#translate") + "/click");
  const std::string expected = api(sentence);
  REQUIRE(!expected.empty());
  CHECK(browser.text_when_filled("#translation") == expected);
  // One cell per (output token + [END]) x (source wordpiece + [START]/[END]).
  const size_t cells = browser.count("#attention rect");
  CHECK(cells >= 6);  // at least [START] kalo mine suta . [END] x [END]
  CHECK(cells % 6 == 0);
  CHECK(browser.text_when_filled("#model").find("model fp") == 0);

  browser.call("POST", "/url", {{"url", page + "?text=po%20kalo%20."}});
  CHECK(browser.text_when_filled("#translation") == api("po kalo ."));
}
