// The embedded mode: the chat fills #chat and is open from the start.
window.parley.chat.load({
  verify: { projectID: 'pizza' },
  assistant: { title: 'Pizza Palace' },
  render: { mode: 'embedded', target: '#chat' },
});
