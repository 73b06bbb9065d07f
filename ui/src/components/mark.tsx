/** The Palisade mark, a stockade fence, drawn inline: the CSP lets the page load no image files. */
export function Mark() {
  return (
    <svg class="mark" viewBox="0 0 24 24" aria-hidden="true">
      <path d="M4 21V7l2-3 2 3v14zM10 21V6l2-3 2 3v15zM16 21V7l2-3 2 3v14zM3 10h18v2H3zM3 16h18v2H3z" />
    </svg>
  );
}
