// Package search is the robot's client of two web search APIs, Bocha
// (博查, api.bocha.cn) and Tavily (api.tavily.com), and the web_search tool
// the model calls to use them.
//
// Search asks the service and hands back results fit to be shown: only
// http(s) links, titles that cannot break a markdown link, every field
// bounded. Format turns them into the text the model reads, with the
// instruction to cite what it used as markdown links. The service's answer
// is read as untrusted input: it is bounded in size, and an answer of the
// wrong shape costs the search, never the process.
//
// The wire facts the code relies on are in docs/protocols.md §17 (where
// the fakes differ from them: §16). Package searchtest has fakes of both
// services; docs/tools.md says how the robot uses them.
package search
