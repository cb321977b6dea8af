// bcqnmt serve over real HTTP on 127.0.0.1 (httplib's client): the API answers as
// `translate` does, also for concurrent clients whose requests are batched together and for
// blank and over-long sentences (an empty translation; a warning naming the cut one); bad
// requests get a JSON error and a 4xx; SIGTERM and SIGINT stop it gracefully (the request
// in flight is answered) with 143 and 130.
#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <tuple>
#include <nlohmann/json.hpp>

#include "serve_process.h"
#include "tiny_run.h"

using namespace bcqnmt::test;

namespace {

// POST /translate with `body`: the status and the parsed answer (null if not JSON).
std::pair<int, nlohmann::json> post(int port, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60);
  const httplib::Result r = client.Post("/translate", body, "application/json");
  if (!r) return {-1, nullptr};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

// Sends `request` as bytes on a fresh connection and returns everything the server sends
// back until it closes: for requests httplib's client would not send (no Content-Length).
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

}  // namespace

TEST_CASE("serve: the JSON API, concurrent clients batched, clean errors, graceful SIGTERM") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  const std::vector<std::string> sentences{"kalo mine .", "suta ri po .", "mine kalo suta .", "ri ri po kalo .",
                                           "po .",        "kalo .",       "suta mine ri po kalo .", "mine ."};
  std::string input;
  for (const std::string& s : sentences) input += s + "\n";
  const std::string expected = run_bcqnmt_ok("translate -q --run " + t.run.string(), input).out;  // one line each
  const std::string first_expected = expected.substr(0, expected.find('\n'));

  // A long window makes the batching of 8 simultaneous clients certain, and leaves a request
  // in flight when SIGTERM comes below.
  ServeProcess server({"--run", t.run.string(), "--batch-window-ms", "1000", "--max-request-bytes", "2000",
                       "--max-sentences", "4"});
  INFO(server.process.out() << server.process.err());
  REQUIRE(server.port > 0);

  SUBCASE("GET /health") {
    httplib::Client client("127.0.0.1", server.port);
    const httplib::Result r = client.Get("/health");
    REQUIRE(r);
    CHECK(r->status == 200);
    const nlohmann::json health = nlohmann::json::parse(r->body);
    CHECK(health.at("status") == "ok");
    CHECK(health.at("model") == "fp");
    CHECK(health.at("bits_per_weight") == 32.0);
    CHECK(health.at("version").get<std::string>().find("bcqnmt ") == 0);
    const httplib::Result page = client.Get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body.find("id=\"translate\"") != std::string::npos);
  }

  SUBCASE("8 concurrent clients get what translate gives, decoded in shared batches") {
    std::vector<std::future<std::pair<int, nlohmann::json>>> answers;
    for (const std::string& s : sentences)
      answers.push_back(std::async(std::launch::async, [&] { return post(server.port, nlohmann::json{{"text", {s}}}.dump()); }));
    int most_batched = 0;
    std::string served;
    for (size_t i = 0; i < sentences.size(); ++i) {
      const auto [status, answer] = answers[i].get();
      REQUIRE(status == 200);
      REQUIRE(answer.at("translations").size() == 1);
      served += answer.at("translations").at(0).get<std::string>() + "\n";
      CHECK(answer.at("scores").size() == 1);
      CHECK(answer.at("timing_ms").at("total").get<double>() >= answer.at("timing_ms").at("decode").get<double>());
      most_batched = std::max(most_batched, answer.at("batched_requests").get<int>());
    }
    CHECK(served == expected);
    CHECK(most_batched > 1);

    // Several sentences, n-best with beam search, and the attention map.
    const auto [status, answer] =
        post(server.port, R"({"text": ["kalo mine .", "po ."], "beam": 3, "n_best": 2, "attention": true})");
    REQUIRE(status == 200);
    CHECK(answer.at("n_best").size() == 2);
    CHECK(answer.at("n_best").at(0).size() == 2);
    CHECK(answer.at("n_best").at(0).at(0).at("text") == answer.at("translations").at(0));
    const nlohmann::json& map = answer.at("attention").at(0);
    CHECK(map.at("source").size() == 5);  // [START] kalo mine . [END] (one wordpiece each in this vocabulary)
    REQUIRE(map.at("weights").size() == map.at("target").size());
    CHECK(map.at("weights").at(0).size() == map.at("source").size());
  }

  SUBCASE("blank sentences and an empty list: answered as translate answers a blank line") {
    // A blank sentence is not decoded: "" scored 0 in every list (translate gives an empty line).
    const auto [status, answer] =
        post(server.port, R"({"text": ["kalo mine .", " \t", ""], "beam": 2, "n_best": 2, "attention": true})");
    REQUIRE(status == 200);
    const std::string by_translate =
        run_bcqnmt_ok("translate -q --beam 2 --run " + t.run.string(), "kalo mine .\n \t\n\n").out;
    std::string served;
    for (const nlohmann::json& line : answer.at("translations")) served += line.get<std::string>() + "\n";
    CHECK(served == by_translate);
    CHECK(answer.at("translations").at(1) == "");
    CHECK(answer.at("translations").at(2) == "");
    CHECK(answer.at("scores").at(1) == 0.0);
    CHECK(answer.at("scores").at(2) == 0.0);
    CHECK(answer.at("n_best").at(1) == nlohmann::json::parse(R"([{"text": "", "score": 0.0}])"));
    CHECK(answer.at("attention").at(1).at("source").empty());
    CHECK(answer.at("warnings").empty());

    // No sentences: empty lists, not an error.
    const auto [empty_status, empty] = post(server.port, R"({"text": [], "attention": true})");
    REQUIRE(empty_status == 200);
    CHECK(empty.at("translations").empty());
    CHECK(empty.at("scores").empty());
    CHECK(empty.at("attention").empty());
    CHECK(empty.at("warnings").empty());
  }

  SUBCASE("over-long input: cut, and the answer names the sentence as translate's warning does") {
    // Longer than the model reads (128 tokens with [START] and [END]): cut, and the answer
    // says so in the words translate's warning uses, with the sentence's index.
    std::string long_sentence;
    for (int i = 0; i < 130; ++i) long_sentence += "kalo ";
    const CommandResult cut = run_bcqnmt_ok("translate -q --run " + t.run.string(), long_sentence + "\n");
    CHECK(cut.err.find("warning: line 1: 130 wordpieces, cut to the model's 126") != std::string::npos);
    const auto [long_status, long_answer] =
        post(server.port, nlohmann::json{{"text", {"po .", long_sentence}}}.dump());
    REQUIRE(long_status == 200);
    CHECK(long_answer.at("warnings") == nlohmann::json{"text[1]: 130 wordpieces, cut to the model's 126"});
    CHECK(long_answer.at("translations").at(1).get<std::string>() + "\n" == cut.out);
  }

  SUBCASE("bad requests: one JSON error line and a 4xx") {
    for (const auto& [body, status] : std::vector<std::pair<std::string, int>>{
             {"{\"text\": [", 400},
             {"[1, 2]", 400},
             {R"({"text": "kalo"})", 400},
             {R"({"text": [1]})", 400},
             {R"({"text": ["kalo"], "beam": 0})", 400},
             {R"({"text": ["kalo"], "beam": 2, "n_best": 3})", 400},
             {R"({"text": ["kalo"], "n_best": 2})", 400},  // says "needs beam 2 or more"
             {R"({"text": ["kalo"], "beem": 2})", 400},
             {R"({"text": ["a", "b", "c", "d", "e"]})", 400},  // over --max-sentences
             {R"({"text": [")" + std::string(3000, 'a') + "\"]}", 413},  // over --max-request-bytes
             {"{\"text\": [\"ol\xe1\"]}", 400}}) {                       // not UTF-8
      const auto [got, answer] = post(server.port, body);
      INFO(body.substr(0, 60));
      CHECK(got == status);
      CHECK(answer.at("error").is_string());
    }
    httplib::Client client("127.0.0.1", server.port);
    const httplib::Result missing = client.Get("/nothing");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    // No Content-Length and no chunks: a POST has no body, answered at once (it was answered
    // "the body could not be read" after httplib's 5 s read timeout); other methods get 405
    // without their body being read (a PUT waited 5 s for a 400 "HTTP status 400").
    for (const auto& [request, status, says] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"POST /translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "400",
              "POST /translate takes a JSON body"},
             {"PUT /translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "405", "translate with POST"},
             {"DELETE /translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "405", "translate with POST"},
             {"PUT /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"text\": []}",
              "405", "translate with POST"}}) {
      const auto sent = std::chrono::steady_clock::now();
      const std::string reply = raw_exchange(server.port, request);
      INFO(request << reply);
      CHECK(reply.rfind("HTTP/1.1 " + status, 0) == 0);
      CHECK(reply.find(says) != std::string::npos);
      CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(3));
    }
    const httplib::Result empty = client.Post("/translate", "", "application/json");
    REQUIRE(empty);
    CHECK(empty->status == 400);
    CHECK(nlohmann::json::parse(empty->body).at("error").is_string());
  }

  SUBCASE("SIGTERM: the request in flight is answered, then exit 143") {
    auto in_flight = std::async(std::launch::async, [&] { return post(server.port, R"({"text": ["kalo mine ."]})"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // queued, waiting out its 1 s window
    const auto start = std::chrono::steady_clock::now();
    CHECK(server.process.stop(SIGTERM, std::chrono::seconds(10)) == 143);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    const auto [status, answer] = in_flight.get();
    CHECK(status == 200);
    CHECK(answer.at("translations") == nlohmann::json{first_expected});
    CHECK(server.process.out().find("stopped by signal") != std::string::npos);
    CHECK(post(server.port, R"({"text": ["kalo"]})").first == -1);  // no longer listening
  }

  SUBCASE("SIGTERM with more clients than httplib has workers: every accepted client is answered") {
    // 12 clients, 8 workers (CPPHTTPLIB_THREAD_POOL_COUNT on 2 cores): 4 connections wait in
    // httplib's queue. httplib's stop() made their jobs return unread: 4 empty replies.
    std::vector<std::future<std::pair<int, nlohmann::json>>> clients;
    for (int i = 0; i < 12; ++i)
      clients.push_back(
          std::async(std::launch::async, [&] { return post(server.port, R"({"text": ["kalo mine ."]})"); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all connected, 8 waiting out their window
    CHECK(server.process.stop(SIGTERM, std::chrono::seconds(20)) == 143);
    for (auto& c : clients) {
      const auto [status, answer] = c.get();
      CHECK(status == 200);
      if (status == 200) CHECK(answer.at("translations") == nlohmann::json{first_expected});
    }
  }
}

TEST_CASE("serve: Ctrl-C (SIGINT) stops it with 130; a port in use is one error line") {
  ScratchDir dir;
  const TinyRun t = make_trained_tiny_run(dir.path);
  ServeProcess server({"--run", t.run.string()});
  REQUIRE(server.port > 0);
  const CommandResult clash =
      run_bcqnmt("serve --run " + t.run.string() + " --port " + std::to_string(server.port));
  CHECK(clash.status == 1);
  CHECK(count_lines(clash.err) == 1);
  CHECK(clash.err.find("cannot listen on 127.0.0.1:" + std::to_string(server.port)) != std::string::npos);
  // A body over 8 KiB sent as `curl -d` sends it (form-encoded) is read like any other: httplib
  // used to refuse it with 413 under the 64 KiB limit.
  std::string long_text = R"({"text": [")";
  for (int i = 0; i < 800; ++i) long_text += "kalo mine . ";
  long_text += "\"]}";
  REQUIRE(long_text.size() > 9000);
  httplib::Client client("127.0.0.1", server.port);
  client.set_read_timeout(60);
  const httplib::Result form = client.Post("/translate", long_text, "application/x-www-form-urlencoded");
  REQUIRE(form);
  CHECK(form->status == 200);
  // GET on the POST path: 405 with Allow, not "no such path".
  const httplib::Result get = client.Get("/translate");
  REQUIRE(get);
  CHECK(get->status == 405);
  CHECK(get->get_header_value("Allow") == "POST");
  CHECK(server.process.stop(SIGINT, std::chrono::seconds(10)) == 130);
  CHECK(run_bcqnmt("serve --bundle " + t.run.string() + " --run " + t.run.string()).status == 2);
}
