// Form focus (the first focus of each form per page view) and submit. Only the form's id or name
// attribute is read — never a field, a value, or the form's action.
import { attr } from '../dom.js';

export const formName = (d, form) =>
  attr(form, 'id') || attr(form, 'name') || 'form-' + [].indexOf.call(d.forms, form);

export function forms({ d, emit, on, flush }) {
  let focused;
  on(d, 'focusin', (e) => {
    const form = e.target.closest && e.target.closest('form');
    if (form && !focused.has(form)) {
      focused.add(form);
      emit('form', { action: 'focus', form: formName(d, form) });
    }
  });
  on(
    d,
    'submit',
    (e) => {
      emit('form', { action: 'submit', form: formName(d, e.target) });
      flush(); // a submit usually navigates: send now (keepalive survives the navigation)
    },
    true,
  );
  return {
    page() {
      focused = new Set();
    },
  };
}
