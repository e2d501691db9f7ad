// The reference for bench/edge_bench.py: what a site owner would otherwise run at the edge, a
// Cloudflare Worker that fetches the origin and rewrites the page with HTMLRewriter (lol-html).
// It does what Vernier does in the benchmark: the tracker tag before </head> and, with EDITS
// set to "3", the three edits of bench/rules-3-edits/edits.yaml. The origin is the service
// binding ORIGIN (workerd's own static file server in the benchmark).
const TAG = '<script src="/__vernier/t.js" defer></script>';

class Inject {
  element(head) {
    head.append(TAG, { html: true });
  }
}

class SetText {
  element(el) {
    el.setInnerContent("Edited headline");
  }
}

class SetAttr {
  element(el) {
    el.setAttribute("data-variant", "b");
  }
}

class Hide {
  element(el) {
    const style = el.getAttribute("style");
    el.setAttribute("hidden", "");
    el.setAttribute("style", style ? `${style.replace(/;\s*$/, "")};display: none` : "display: none");
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await env.ORIGIN.fetch(new URL(url.pathname + url.search, "http://origin/"), {
      headers: request.headers,
    });
    const type = upstream.headers.get("content-type") || "";
    if (!type.startsWith("text/html")) {
      return upstream;
    }
    let rewriter = new HTMLRewriter().on("head", new Inject());
    if (env.EDITS === "3") {
      rewriter = rewriter
        .on("h1", new SetText())
        .on("article", new SetAttr())
        .on("article > p:first-of-type", new Hide());
    }
    return rewriter.transform(upstream);
  },
};
