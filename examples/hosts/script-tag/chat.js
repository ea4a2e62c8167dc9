// The page's call to the loader (in a file of its own, not inline: the page keeps a CSP
// without 'unsafe-inline'). `url` defaults to the server that served parley.js.
window.parley.chat.load({
  verify: { projectID: 'pizza' },
  assistant: { title: 'Pizza Palace', color: '#c2410c' },
});
// The demo flow's custom action: a payment the page would take; here it always succeeds.
window.addEventListener('parley:action', function (event) {
  if (event.detail.type === 'payment') window.parley.chat.interact({ type: 'success' });
});
