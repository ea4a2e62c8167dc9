// The demo page's call: the pizza project served by the same server as the page.
window.parley.chat.load({
  verify: { projectID: 'pizza' },
  assistant: { title: 'Pizza Palace' },
});
