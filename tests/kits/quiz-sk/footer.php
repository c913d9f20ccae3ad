<footer class="footer">
  <p>© <?php echo date('Y'); ?> Zdravé kĺby · Informácie na tejto stránke nenahrádzajú návštevu lekára.</p>
</footer>
