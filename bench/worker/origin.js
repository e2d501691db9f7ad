// The origin of bench/edge_bench.py (nginx is not always installed): the pages of the temp
// docroot (workerd's static file server, the FILES binding), read once and then served from
// memory with the Content-Type a web server would send (the disk service sends
// application/octet-stream for everything), so that the origin costs as little as it can.
const TYPES = { html: "text/html; charset=utf-8", js: "text/javascript", css: "text/css" };
const pages = new Map();

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    let page = pages.get(url.pathname);
    if (page === undefined) {
      const file = await env.FILES.fetch(new URL(url.pathname, "http://files/"));
      if (file.status !== 200) {
        return file;
      }
      page = await file.arrayBuffer();
      pages.set(url.pathname, page);
    }
    const ext = url.pathname.split(".").pop();
    const type = TYPES[ext] || "application/octet-stream";
    return new Response(request.method === "HEAD" ? null : page, {
      headers: { "Content-Type": type, "Content-Length": String(page.byteLength) },
    });
  },
};
