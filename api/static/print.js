// 打印按钮：页面不含内联脚本（Content-Security-Policy: script-src 'self'）。
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
