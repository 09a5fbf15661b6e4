/** The benchmark page (a 20-item loop), as a page script and as the identical EJS template. */
export const SJS = `<!doctype html>
<html><head><title><?= title ?></title></head><body>
<?js var title = "Shop & more"; var items = []; for (var i = 0; i < 20; i++) items.push({ name: "item <" + i + ">", price: i * 1.5, cls: i % 2 ? "odd" : "even" }); ?>
<h1><?= title ?></h1>
<ul>
<?js for (const item of items) { ?>  <li class="<?= item.cls ?>"><?= item.name ?>: <?= item.price.toFixed(2) ?></li>
<?js } ?></ul>
<p>Requested <?= request.path ?></p>
</body></html>
`;

export const EJS = `<!doctype html>
<html><head><title><%= title %></title></head><body>
<% var title = "Shop & more"; var items = []; for (var i = 0; i < 20; i++) items.push({ name: "item <" + i + ">", price: i * 1.5, cls: i % 2 ? "odd" : "even" }); -%>
<h1><%= title %></h1>
<ul>
<% for (const item of items) { %>  <li class="<%= item.cls %>"><%= item.name %>: <%= item.price.toFixed(2) %></li>
<% } -%></ul>
<p>Requested <%= request.path %></p>
</body></html>
`;
