// The status page's memory (EventLog) and its JSON: bounded events, newest first; dropped
// FileStores remembered for a while; one event per GC stop however often it repeats; names
// that are not valid UTF-8 or hold quotes still make valid JSON; a page with no external asset.
#include <gtest/gtest.h>

#include "servers/nameserver/events.h"
#include "servers/nameserver/status_page.h"

namespace chainfs::nameserver {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(EventLogTest, KeepsTheNewestEventsNewestFirst) {
  FakeClock clock;
  EventLog log(&clock, minutes(10), /*capacity=*/3);
  for (int i = 0; i < 5; ++i) log.Add("gc", std::to_string(i));
  std::vector<Event> events = log.Recent();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].text, "4");
  EXPECT_EQ(events[2].text, "2");
  EXPECT_EQ(events[0].wall_ns, clock.WallNanos());
}

TEST(EventLogTest, DroppedFileStoreRemembered_UntilItRegistersOrTheMemoryPasses) {
  FakeClock clock;
  EventLog log(&clock, minutes(10));
  log.Dropped("a:1");
  log.Dropped("b:1");
  ASSERT_EQ(log.RecentlyDropped().size(), 2u);
  EXPECT_EQ(log.RecentlyDropped()[0].address, "b:1");
  log.Registered("b:1");
  ASSERT_EQ(log.RecentlyDropped().size(), 1u);
  clock.Advance(minutes(10) + seconds(1));
  EXPECT_TRUE(log.RecentlyDropped().empty());
}

TEST(EventLogTest, GcOutcome_RoundsCounted_RepeatedStopIsOneEvent_NoRoundDueKeepsTheLast) {
  FakeClock clock;
  EventLog log(&clock, minutes(10));
  log.GcRound(0);
  EXPECT_EQ(log.gc().wall_ns, 0);  // nothing happened yet
  log.GcRound(42);
  EXPECT_EQ(log.gc().rounds, 1);
  EXPECT_TRUE(log.gc().ok);
  log.GcRound(0, "gc: a FileStore was dropped recently");
  log.GcRound(0, "gc: a FileStore was dropped recently");
  log.GcRound(0);
  EXPECT_FALSE(log.gc().ok);
  EXPECT_EQ(log.gc().text, "GC round stopped: gc: a FileStore was dropped recently");
  EXPECT_EQ(log.Recent().size(), 2u);
}

TEST(StatusJsonTest, QuotesAndBadUtf8InAnEvent_StillValidJson) {
  StatusView view;
  view.self = "ns:1";
  view.events.push_back({1, "replication", std::string("bad \"name\\\x01\xff\xc3\xa9") + "/x"});
  std::string json = StatusJson(view);
  EXPECT_NE(json.find(R"("text":"bad \"name\\\u0001\ufffd)"
                      "\xc3\xa9"
                      R"(/x")"),
            std::string::npos)
      << json;
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
}

TEST(StatusJsonTest, LateFileStore_AfterHalfAnIntervalOverdue) {
  StatusView view;
  view.heartbeat_interval_ms = 1000;
  v1::FileStoreStatus* fresh = view.cluster.add_filestores();
  fresh->set_address("a:1");
  fresh->set_last_heartbeat_age_ms(1400);
  v1::FileStoreStatus* late = view.cluster.add_filestores();
  late->set_address("b:1");
  late->set_last_heartbeat_age_ms(1600);
  std::string json = StatusJson(view);
  EXPECT_NE(json.find(R"({"address":"a:1","state":"live")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"address":"b:1","state":"late")"), std::string::npos) << json;
}

TEST(StatusPageTest, PageLoadsNothingFromElsewhere_ReadsStatusJson) {
  std::string_view page = StatusPageHtml();
  EXPECT_EQ(page.find("http://"), std::string_view::npos);
  EXPECT_EQ(page.find("https://"), std::string_view::npos);
  EXPECT_EQ(page.find(" src="), std::string_view::npos);
  EXPECT_EQ(page.find("<link"), std::string_view::npos);
  EXPECT_NE(page.find("fetch(\"status.json\""), std::string_view::npos);
}

}  // namespace
}  // namespace chainfs::nameserver
